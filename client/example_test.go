package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ferry-ftp/ferry/client"
)

// A download over explicit TLS, resuming a partial local file, in the
// passive mode with fallback to active.
func Example() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ftp.example.com:21",
		client.WithTLS(nil), client.WithMode(client.ModeAuto))
	if err != nil {
		fmt.Println(err) // wraps client.ErrConnection
		return
	}
	defer c.Close()
	if err := c.Login(ctx, "user", "secret"); err != nil {
		fmt.Println(err) // wraps client.ErrLogin, and the *ftp.Reply
		return
	}
	f, err := os.OpenFile("file.iso", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	if _, err := c.Retrieve(ctx, "pub/file.iso", st.Size(), f); errors.Is(err, client.ErrTransfer) {
		fmt.Println(err, c.LastData())
	}
	c.Quit(ctx)
}
