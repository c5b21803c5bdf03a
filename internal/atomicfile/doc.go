// Package atomicfile creates, replaces and renames files without following
// symbolic links and without replacing what must not be replaced.
//
// Every file quicxfer writes on the client side goes through here:
//
//   - OpenFile opens an existing file, or creates one, with O_NOFOLLOW: a
//     symbolic link where the file belongs is refused (*SymlinkError), never
//     followed, and so is anything that is not a regular file.
//   - Write replaces a file atomically: the data goes into a new temporary
//     file (O_CREAT|O_EXCL, which never follows a link), is fsynced, renamed
//     over the path, and the directory is fsynced. A symbolic link at the
//     path or at a fixed temporary name is refused; with NoReplace, an
//     existing path is refused too (fs.ErrExist).
//   - RenameNoReplace renames without replacing: renameat2 with
//     RENAME_NOREPLACE, or where the file system has no such rename (EINVAL),
//     a hard link and an unlink, which cannot replace either. It fails with
//     an error wrapping fs.ErrExist if the new name exists in any form,
//     a dangling symbolic link included.
//
// O_NOFOLLOW applies to the last component of a path only: directories on
// the way are the user's choice.
package atomicfile
