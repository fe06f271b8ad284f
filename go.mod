module github.com/ferry-ftp/ferry

go 1.25
