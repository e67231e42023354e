// gin-ping: a minimal Gin server used as the reference point for
// scripts/bench-backend. It answers GET /ping with {"message":"pong"},
// the same route the Sluice demo backend (sluice-demo) serves.
//
// Built from Debian's golang-github-gin-gonic-gin-dev in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o gin-ping ./scripts/gin-ping
//
// Usage: gin-ping PORT   (listens on 127.0.0.1:PORT only)
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/gin-gonic/gin"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gin-ping PORT")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port < 1 || port > 65535 {
		fmt.Fprintf(os.Stderr, "gin-ping: invalid port %q\n", os.Args[1])
		os.Exit(2)
	}

	gin.SetMode(gin.ReleaseMode)
	// gin.New() rather than gin.Default(): no Logger and no Recovery
	// middleware. sluice-demo runs with --quiet (no access log) in the
	// benchmark, so Gin must not pay for per-request logging either; this
	// keeps the comparison fair.
	r := gin.New()
	r.GET("/ping", func(c *gin.Context) {
		c.JSON(200, gin.H{"message": "pong"})
	})

	addr := "127.0.0.1:" + strconv.Itoa(port)
	fmt.Printf("gin-ping listening on %s\n", addr)
	if err := r.Run(addr); err != nil {
		fmt.Fprintf(os.Stderr, "gin-ping: %v\n", err)
		os.Exit(1)
	}
}
