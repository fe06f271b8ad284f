package cli

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// rootWarning is the start-up warning for a server that would keep
// root: effective uid euid 0 and no process.run_as to switch to. It is
// empty otherwise.
func rootWarning(euid int, runAs string) string {
	if euid != 0 || runAs != "" {
		return ""
	}
	return "running as root (uid 0) with every capability, and no process.run_as: " +
		"a flaw in ferry or in a library it uses would hand whoever exploits it the whole host; " +
		"set [process] run_as (--run-as) to an unprivileged account to switch to after binding, " +
		"or start ferry as an unprivileged user holding only CAP_NET_BIND_SERVICE (contrib/ferry.service)"
}

// dropPrivileges switches the whole process (every thread: Go applies
// setuid to all of them since Go 1.16) to the account name, with its
// primary group and no supplementary groups. Started without root it
// only checks that it already runs as that account.
func dropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("process.run_as: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("process.run_as: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("process.run_as: gid %q: %w", u.Gid, err)
	}
	if os.Geteuid() != 0 {
		if os.Geteuid() == uid {
			return nil
		}
		return fmt.Errorf("process.run_as: switching to %q needs root (running as uid %d)", name, os.Geteuid())
	}
	// Order matters: groups first, while still allowed to change them.
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("dropping supplementary groups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	// A setuid that left a way back to root would be worse than none.
	if err := syscall.Setuid(0); err == nil {
		return fmt.Errorf("privileges not dropped: could return to root")
	}
	return nil
}
