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
	"sync"
	"time"

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
	// The rows of scripts/bench-backend beside SluiceWeb's: JSON binding, and a route behind a
	// token-bucket rate limit and a request counter/timer (what SluiceWeb's RateLimit + Metrics do).
	r.POST("/bench/user", func(c *gin.Context) {
		var u benchUser
		if err := c.ShouldBindJSON(&u); err != nil {
			c.JSON(400, gin.H{"error": err.Error()})
			return
		}
		c.JSON(200, u)
	})
	limiter := &bucket{rate: 1e6, burst: 1e6, tokens: 1e6, last: time.Now()}
	stats := &metrics{counts: map[metricKey]int64{}, seconds: map[metricKey]float64{}}
	r.GET("/bench/limited", limiter.middleware, stats.middleware, func(c *gin.Context) {
		c.JSON(200, gin.H{"message": "pong"})
	})

	addr := "127.0.0.1:" + strconv.Itoa(port)
	fmt.Printf("gin-ping listening on %s\n", addr)
	if err := r.Run(addr); err != nil {
		fmt.Fprintf(os.Stderr, "gin-ping: %v\n", err)
		os.Exit(1)
	}
}

type benchUser struct {
	Name string `json:"name" binding:"required"`
	Age  int    `json:"age"`
}

// bucket: one token bucket for the route, as SluiceWeb's RateLimit(key: .global).
type bucket struct {
	mu                  sync.Mutex
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) middleware(c *gin.Context) {
	b.mu.Lock()
	now := time.Now()
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.last = now
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	remaining := int64(b.tokens)
	b.mu.Unlock()
	c.Header("RateLimit-Limit", "1000000")
	c.Header("RateLimit-Remaining", strconv.FormatInt(remaining, 10))
	c.Header("RateLimit-Reset", "1")
	if !ok {
		c.AbortWithStatusJSON(429, gin.H{"error": "too many requests"})
		return
	}
	c.Next()
}

type metricKey struct {
	method, route string
	status        int
}

// metrics: a count and a total duration per method, route and status.
type metrics struct {
	mu      sync.Mutex
	counts  map[metricKey]int64
	seconds map[metricKey]float64
}

func (m *metrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	key := metricKey{c.Request.Method, c.FullPath(), c.Writer.Status()}
	elapsed := time.Since(start).Seconds()
	m.mu.Lock()
	m.counts[key]++
	m.seconds[key] += elapsed
	m.mu.Unlock()
}
