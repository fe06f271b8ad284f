package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// processTree returns pid and all its descendants, found through
// /proc/PID/task/*/children (vsftpd, Pure-FTPd and ProFTPD fork one or
// two processes per session).
func processTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// memory is the sum over a set of processes, in KiB.
type memory struct {
	RSS, PSS int64
	Procs    int
}

// treeMemory sums smaps_rollup over pid and its descendants. Processes
// that exit while it reads are skipped.
func treeMemory(pid int) memory {
	var m memory
	for _, p := range processTree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		rss, pss := parseRollup(b)
		m.RSS += rss
		m.PSS += pss
		m.Procs++
	}
	return m
}

// treeRSS sums VmRSS from /proc/PID/statm, which is much cheaper than
// smaps_rollup, for sampling during a listing.
func treeRSS(pid int) int64 {
	var kib int64
	page := int64(os.Getpagesize() / 1024)
	for _, p := range processTree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			kib += n * page
		}
	}
	return kib
}

// parseRollup reads the Rss and Pss lines (in kB) of smaps_rollup.
func parseRollup(b []byte) (rss, pss int64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			rss = n
		case "Pss:":
			pss = n
		}
	}
	return rss, pss
}

// ioSyscalls returns syscr+syscw of /proc/PID/io: sendfile and splice
// count one each per call, a read/write copy loop one per buffer, so the
// count per MiB moved tells which path a transfer took.
func ioSyscalls(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok && (k == "syscr" || k == "syscw") {
			x, _ := strconv.ParseInt(v, 10, 64)
			n += x
		}
	}
	return n
}

// loadavg returns the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuTimes returns busy and total jiffies from /proc/stat's cpu line.
func cpuTimes() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		n, _ := strconv.ParseInt(s, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// clockTicks is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on every Linux architecture Go runs on).
const clockTicks = 100

// sessionCPU returns the CPU time used so far by the processes below pid
// (a forking server's sessions and their helpers), in clock ticks. Once
// the master reaps them, it is in the master's own figure (procCPU), so a
// measurement subtracts it at its start.
func sessionCPU(pid int) int64 {
	var n int64
	for _, p := range processTree(pid) {
		if p != pid {
			n += procCPU(p)
		}
	}
	return n
}

// procCPU returns the clock ticks (user+system) used so far by pid and
// its children that were waited for.
func procCPU(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	var n int64
	for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		if k < len(f) {
			x, _ := strconv.ParseInt(f[k], 10, 64)
			n += x
		}
	}
	return n
}
