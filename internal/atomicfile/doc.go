// Package atomicfile opens, reads, creates, replaces and renames files
// without following symbolic links where it must not, without blocking on a
// FIFO, without writing into a file that has other names, and without
// replacing what must not be replaced.
//
// Every file quicxfer writes on the client side goes through here, and
// every small file it reads:
//
//   - OpenFile opens an existing file, or creates one, with O_NOFOLLOW and
//     O_NONBLOCK: a symbolic link where the file belongs is refused
//     (*SymlinkError), never followed, and so is anything that is not a
//     regular file (*NotRegularError; a FIFO never blocks the open, a device
//     is never opened). Opened for writing, a file with more than one hard
//     link is refused (*HardLinkError): writing to it would change the file
//     under its other names, which may be anyone's.
//   - CheckPlain tells whether a path is free or a plain file (regular, one
//     name): what quicxfer may write, replace or remove as its own.
//   - ReadFile and ReadFileNoFollow read a regular file of at most a given
//     size (*TooLargeError otherwise, told by the size before anything is
//     read): ReadFile follows a symbolic link, for a file the user named (a
//     certificate, a token file); ReadFileNoFollow does not, for quicxfer's
//     own files. OpenRegular opens a large file the user named for reading.
//   - Write replaces a file atomically: the data goes into a new temporary
//     file (O_CREAT|O_EXCL, which never follows a link or opens an existing
//     file), is fsynced, renamed over the path, and the directory is
//     fsynced. A symbolic link or a file that is not regular at the path is
//     refused; at a fixed temporary name only a plain file (a leftover) is
//     removed, anything else is refused. With NoReplace, an existing path is
//     refused too (fs.ErrExist).
//   - RenameNoReplace renames without replacing: renameat2 with
//     RENAME_NOREPLACE, or where the file system has no such rename (EINVAL),
//     a hard link and an unlink, which cannot replace either. It fails with
//     an error wrapping fs.ErrExist if the new name exists in any form,
//     a dangling symbolic link included.
//
// O_NOFOLLOW applies to the last component of a path only: directories on
// the way are the user's choice.
package atomicfile
