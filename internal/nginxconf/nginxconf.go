// Package nginxconf writes the configuration of an nginx that a test or a
// benchmark runs itself, as an ordinary process: everything it writes
// (pid, logs, temporary files) in one directory, one server block serving
// a directory.
package nginxconf

import (
	"fmt"
	"strings"
)

// Config is one nginx's configuration.
type Config struct {
	Dir    string // where its pid, logs and temporary files go
	Listen string // its address, host:port
	Root   string // the directory it serves
	// AccessLog logs each request's body bytes sent ($body_bytes_sent),
	// one line each, to Dir/access.log; without it there is no access log.
	AccessLog bool
	// Extra are directives inside the server block ("limit_rate 1m;").
	Extra string
}

// String is the configuration file's text.
func (c Config) String() string {
	access := "access_log off;"
	if c.AccessLog {
		access = fmt.Sprintf("log_format bytes '$body_bytes_sent';\n  access_log %s/access.log bytes;", c.Dir)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  %[2]s
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  server {
    listen %[3]s;
    root %[4]s;
    %[5]s
  }
}
`, c.Dir, access, c.Listen, c.Root, c.Extra)
	return b.String()
}
