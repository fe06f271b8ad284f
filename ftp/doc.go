// Package ftp is the wire vocabulary shared by ferry's server and client:
// reply codes and the Reply error type, command-line parsing, the host-port
// encodings of PORT, PASV, EPRT and EPSV with the port ranges and port maps
// behind them, and LIST/MLSx formatting and parsing.
//
// Nothing here touches the network; every function is pure so that the
// parsers can be fuzzed and the server and client agree byte for byte.
package ftp
