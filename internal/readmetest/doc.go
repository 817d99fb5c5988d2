// Package readmetest runs the README's shell examples as a newcomer would
// paste them, and checks the output they show. The conventions it reads
// are the README's own (see "Two commands" there):
//
//   - Every ```sh block runs, in order, in one shell session (the first
//     terminal), from a copy of the repository's configuration files.
//   - A block whose first line is "# terminal N" starts a server that keeps
//     running in terminal N; a later block for the same terminal stops it
//     first, as Ctrl-C would. Its command may start with NAME=value
//     assignments, which reach that command only, as in any shell.
//   - A line "# => TEXT" after a command is a line its output must contain:
//     TEXT exactly, where "..." stands for any run of characters. Several
//     such lines must match lines of the output in their order.
//   - An HTML comment "<!-- not run: REASON -->" just before a block skips
//     it.
//
// The parsing lives here; the test that builds the binary and runs the
// blocks is readme_test.go.
package readmetest
