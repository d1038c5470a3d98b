// kroute-probe, the agent's forwarding prober (main.go; docs/safety.md, "Probing"). Built by the tests' setup as a
// binary family of test/cluster/binaries.ts and shipped in the agent image (agent/Containerfile).
module github.com/kroute/kroute/agent/probe

go 1.26.0

require (
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)
