// Decodes `rt events` output with go-runc's own types (Debian's golang-github-containerd-
// go-runc-dev): the check that containerd's runc client can parse what rt prints.
// Reads JSON lines on stdin; prints "TYPE ID MEMORY_USAGE PIDS_CURRENT CPU_TOTAL" per event.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	runc "github.com/containerd/go-runc"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	n := 0
	for in.Scan() {
		var e runc.Event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			fmt.Fprintf(os.Stderr, "go-runc cannot decode %q: %v\n", in.Text(), err)
			os.Exit(1)
		}
		if e.Stats == nil {
			fmt.Printf("%s %s - - -\n", e.Type, e.ID)
		} else {
			s := e.Stats
			fmt.Printf("%s %s %d %d %d\n", e.Type, e.ID, s.Memory.Usage.Usage, s.Pids.Current, s.Cpu.Usage.Total)
		}
		n++
	}
	if n == 0 {
		fmt.Fprintln(os.Stderr, "no events on stdin")
		os.Exit(1)
	}
}
