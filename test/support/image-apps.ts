// Tiny dependency-free apps for the image tests. Each answers GET / on $PORT
// with what it sees of its container. On SIGTERM it says "got SIGTERM", takes
// half a second to shut down (as an app finishing its requests does), says
// "shut down" and exits 0: a test can tell a graceful stop from a kill, and
// sees when something between the container's PID 1 and the app dies first and
// takes the app down with it (npm's `sh -c` did).

export const NODE_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (k) => (status.match(new RegExp('^' + k + ':\\\\s*(\\\\S+)', 'm')) || [])[1];
const writable = (p) => { try { fs.accessSync(p, fs.constants.W_OK); return true; } catch { return false; } };
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    uid: process.getuid(),
    gid: process.getgid(),
    cwd: process.cwd(),
    capEff: field('CapEff'),
    noNewPrivs: field('NoNewPrivs'),
    workspaceWritable: writable('/workspace'),
    appWritable: writable('/app'),
    homeWritable: writable(process.env.HOME),
    deep: fs.readFileSync('sub/dir/deep.txt', 'utf8'),
    dotfile: fs.existsSync('.hidden'),
    linkIsSymlink: fs.lstatSync('link.txt').isSymbolicLink(),
  }));
});
server.listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
let stopping = false;
process.on('SIGTERM', () => {
  console.log('got SIGTERM');
  if (stopping) return;
  stopping = true;
  server.close();
  setTimeout(() => {
    console.log('shut down');
    process.exit(0);
  }, 500);
});
`;

export const PYTHON_APP = `
import json, os, signal, sys, time
from http.server import HTTPServer, BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"uid": os.getuid(), "cwd": os.getcwd(), "executable": sys.executable}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

def on_term(*_):
    print("got SIGTERM", flush=True)
    time.sleep(0.5)
    print("shut down", flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
server = HTTPServer(("", int(os.environ["PORT"])), Handler)
print("listening on " + os.environ["PORT"], flush=True)
server.serve_forever()
`;

export const GO_MAIN = `package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() {
		<-stop
		fmt.Println("got SIGTERM")
		time.Sleep(500 * time.Millisecond)
		fmt.Println("shut down")
		os.Exit(0)
	}()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "go as uid %d", os.Getuid())
	})
	listener, err := net.Listen("tcp", ":"+os.Getenv("PORT"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("listening on " + os.Getenv("PORT"))
	fmt.Println(http.Serve(listener, nil))
	os.Exit(1)
}
`;

export const GO_MOD = 'module example.com/app\n\ngo 1.19\n';
