module github.com/ferry-ftp/ferry

go 1.25.0

require (
	github.com/pelletier/go-toml/v2 v2.4.3
	golang.org/x/sys v0.47.0
)

require (
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/crypto v0.55.0 // indirect
)
