package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/server"
)

// startProfile makes ferry run inside the harness (from the same
// generated config file, through internal/config and the server package,
// as `ferry serve` does) and records a CPU profile of the whole process
// from now on; the returned function writes it and a heap profile into
// dir. The load generator's own work shows in the same profile: look at
// the server package's frames. Memory workloads measure the harness
// process in this mode, so their figures are not comparable.
func startProfile(dir string) (stop func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cpu, err := os.Create(filepath.Join(dir, "ferry-cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, err
	}
	inProcess = serveInProcess
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		runtime.GC()
		heap, err := os.Create(filepath.Join(dir, "ferry-heap.pprof"))
		if err == nil {
			pprof.Lookup("allocs").WriteTo(heap, 0)
			heap.Close()
		}
		fmt.Fprintf(os.Stderr, "bench: profiles in %s (go tool pprof -top %s)\n", dir, cpu.Name())
	}, nil
}

// serveInProcess starts ferry's server from a config file.
func serveInProcess(path string) (func(), error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	built, err := cfg.Build(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	srv, err := server.New(built.Server)
	if err != nil {
		return nil, err
	}
	if len(built.Listen) != 1 {
		return nil, errors.New("in-process ferry: want one listener")
	}
	l, err := net.Listen("tcp", built.Listen[0].String())
	if err != nil {
		return nil, err
	}
	go srv.Serve(l)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		built.Store.Close()
	}, nil
}
