// Command kroute-probe is kroute's forwarding prober (docs/safety.md, "Probing"): ONE process for every forwarding
// probe of a node. Each period it sends an ICMP echo to each (name, target, mark), each from its own raw ICMP socket
// carrying that SO_MARK (so kroute's fwmark rule steers it through one gateway), and prints one line per probe on
// stdout:
//
//	NAME SEQ reply RTT_MS
//	NAME SEQ timeout
//	NAME SEQ error TEXT
//
// Usage:
//
//	kroute-probe -period-ms 30000 -timeout-ms 1000 [-spread-ms 10] [-count N] NAME,TARGET,MARK ...
//
// With -count N it stops after N periods and exits 0 when every probe was answered, 1 otherwise (a check by hand,
// and the image test's).
// SEQ counts periods from 0 for every name. A reply later than the timeout is not printed (the timeout line was);
// an ICMP error about a probe (destination unreachable, time exceeded) resolves it as an error naming the sender.
// A bad argument, or a socket or mark the kernel refuses (CAP_NET_RAW opens raw sockets, CAP_NET_ADMIN sets marks),
// is printed on stderr and the process exits with status 2. It ends when its parent does (PR_SET_PDEATHSIG), when
// stdout is closed, and on SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// IANA protocol numbers of ICMP and ICMPv6, as icmp.ParseMessage takes them.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

var (
	outMu sync.Mutex
	// replies counts the answered probes (for -count).
	replies atomic.Int64
	// token marks this process's echoes: a raw socket sees every ICMP message of the host, fping's among them.
	token [8]byte
)

// say prints one line; a write error (the agent is gone) ends the process.
func say(format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	if _, err := fmt.Fprintf(os.Stdout, format+"\n", args...); err != nil {
		os.Exit(0)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kroute-probe: "+format+"\n", args...)
	os.Exit(2)
}

type pending struct {
	seq    uint64
	sentAt time.Time
	timer  *time.Timer
}

// probe is one (name, target, mark): its socket, its echo identifier and its probes in flight by wire sequence.
type probe struct {
	name    string
	target  netip.Addr
	mark    uint32
	id      int
	v6      bool
	conn    net.PacketConn
	timeout time.Duration

	mu      sync.Mutex
	pending map[int]*pending
}

func parseSpec(s string) (*probe, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 || parts[0] == "" || strings.ContainsAny(parts[0], " \t\n") {
		return nil, fmt.Errorf("%q: want NAME,TARGET,MARK (a name without spaces, an IP address, a mark)", s)
	}
	target, err := netip.ParseAddr(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%q: target %q is not an IP address", s, parts[1])
	}
	target = target.Unmap()
	mark, err := strconv.ParseUint(parts[2], 0, 32)
	if err != nil {
		return nil, fmt.Errorf("%q: mark %q is not a 32-bit number", s, parts[2])
	}
	return &probe{name: parts[0], target: target, mark: uint32(mark), v6: target.Is6(), pending: map[int]*pending{}}, nil
}

// open makes the probe's raw ICMP socket with its mark, receiving only echo replies and the errors about echoes.
func (p *probe) open() error {
	network, address := "ip4:icmp", "0.0.0.0"
	if p.v6 {
		network, address = "ip6:ipv6-icmp", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		if p.mark == 0 {
			return nil
		}
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(p.mark)) }); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("setsockopt SO_MARK %d: %w (needs CAP_NET_ADMIN; CAP_NET_RAW will do on Linux 5.17+)", p.mark, serr)
		}
		return nil
	}}
	conn, err := lc.ListenPacket(context.Background(), network, address)
	if err != nil {
		return fmt.Errorf("%s: raw socket %s (mark %d): %w (needs CAP_NET_RAW)", p.name, network, p.mark, err)
	}
	if p.v6 {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv6.ICMPType{ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeDestinationUnreachable, ipv6.ICMPTypeTimeExceeded} {
			f.Accept(t)
		}
		err = ipv6.NewPacketConn(conn).SetICMPFilter(&f)
	} else {
		var f ipv4.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv4.ICMPType{ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeDestinationUnreachable, ipv4.ICMPTypeTimeExceeded} {
			f.Accept(t)
		}
		err = ipv4.NewPacketConn(conn).SetICMPFilter(&f)
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("%s: ICMP filter: %w", p.name, err)
	}
	p.conn = conn
	return nil
}

// take removes and returns the probe in flight with this wire sequence, if it still is.
func (p *probe) take(wire int, want *pending) *pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	pd, ok := p.pending[wire]
	if !ok || (want != nil && pd != want) {
		return nil
	}
	delete(p.pending, wire)
	pd.timer.Stop()
	return pd
}

func (p *probe) send(seq uint64) {
	wire := int(seq & 0xffff)
	typ := icmp.Type(ipv4.ICMPTypeEcho)
	if p.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	// ICMPv4's checksum is computed here; the kernel computes ICMPv6's on a raw socket.
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: p.id, Seq: wire, Data: token[:]}}).Marshal(nil)
	if err != nil {
		fatal("marshal: %v", err)
	}
	pd := &pending{seq: seq}
	p.mu.Lock()
	if old := p.pending[wire]; old != nil {
		old.timer.Stop() // 65,536 periods old: long resolved in practice
	}
	pd.sentAt = time.Now()
	pd.timer = time.AfterFunc(p.timeout, func() {
		if got := p.take(wire, pd); got != nil {
			say("%s %d timeout", p.name, got.seq)
		}
	})
	p.pending[wire] = pd
	p.mu.Unlock()
	if _, err := p.conn.WriteTo(b, &net.IPAddr{IP: p.target.AsSlice()}); err != nil {
		if got := p.take(wire, pd); got != nil {
			say("%s %d error sendto: %s", p.name, got.seq, errText(err))
		}
	}
}

// errText is the errno's text without Go's "write ip4 0.0.0.0->…:" prefix.
func errText(err error) string {
	var se syscall.Errno
	if e, ok := err.(*net.OpError); ok {
		if s, ok := e.Err.(*os.SyscallError); ok {
			if n, ok := s.Err.(syscall.Errno); ok {
				se = n
			}
		}
	}
	if se != 0 {
		return se.Error()
	}
	return err.Error()
}

// receive reads the probe's socket: replies to its own echoes, and ICMP errors quoting one of them.
func (p *probe) receive() {
	proto := protoICMP
	if p.v6 {
		proto = protoICMPv6
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			fatal("%s: read: %v", p.name, err)
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		switch body := m.Body.(type) {
		case *icmp.Echo:
			if (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) || body.ID != p.id || len(body.Data) < len(token) || string(body.Data[:len(token)]) != string(token[:]) {
				continue
			}
			if pd := p.take(body.Seq, nil); pd != nil {
				replies.Add(1)
				say("%s %d reply %.3f", p.name, pd.seq, float64(time.Since(pd.sentAt).Microseconds())/1000)
			}
		case *icmp.DstUnreach:
			p.quoted(body.Data, fmt.Sprintf("destination unreachable (%s) from %s", unreachable(p.v6, m.Code), from))
		case *icmp.TimeExceeded:
			p.quoted(body.Data, fmt.Sprintf("time exceeded from %s", from))
		}
	}
}

// quoted resolves the probe an ICMP error quotes (the original IP header and the first 8 bytes of the echo), if ours.
func (p *probe) quoted(data []byte, why string) {
	var echo []byte
	if !p.v6 && len(data) >= 20 && data[0]>>4 == 4 && data[9] == protoICMP {
		if ihl := int(data[0]&0x0f) * 4; len(data) >= ihl+8 && data[ihl] == byte(ipv4.ICMPTypeEcho) {
			echo = data[ihl : ihl+8]
		}
	} else if p.v6 && len(data) >= 48 && data[0]>>4 == 6 && data[6] == protoICMPv6 && data[40] == byte(ipv6.ICMPTypeEchoRequest) {
		echo = data[40:48]
	}
	if echo == nil || int(binary.BigEndian.Uint16(echo[4:6])) != p.id {
		return
	}
	if pd := p.take(int(binary.BigEndian.Uint16(echo[6:8])), nil); pd != nil {
		say("%s %d error %s", p.name, pd.seq, why)
	}
}

func unreachable(v6 bool, code int) string {
	names := map[int]string{0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable",
		4: "fragmentation needed", 9: "net administratively prohibited", 10: "host administratively prohibited", 13: "administratively prohibited"}
	if v6 {
		names = map[int]string{0: "no route", 1: "administratively prohibited", 3: "address unreachable", 4: "port unreachable", 5: "source address failed policy", 6: "reject route"}
	}
	if s, ok := names[code]; ok {
		return fmt.Sprintf("code %d, %s", code, s)
	}
	return fmt.Sprintf("code %d", code)
}

func main() {
	periodMs := flag.Int("period-ms", 30000, "milliseconds between two probes of each target")
	timeoutMs := flag.Int("timeout-ms", 1000, "milliseconds to wait for a reply (at most the period)")
	spreadMs := flag.Int("spread-ms", 10, "milliseconds between the sends to consecutive targets within a period")
	count := flag.Uint64("count", 0, "stop after this many periods (0: run until stopped); exit 1 unless every probe was answered")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: kroute-probe -period-ms P -timeout-ms T [-spread-ms S] [-count N] NAME,TARGET,MARK ...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *periodMs < 1 || *timeoutMs < 1 || *timeoutMs > *periodMs || *spreadMs < 0 {
		fatal("-period-ms %d, -timeout-ms %d, -spread-ms %d: want period >= timeout >= 1 and spread >= 0", *periodMs, *timeoutMs, *spreadMs)
	}
	if flag.NArg() == 0 {
		fatal("no targets: give NAME,TARGET,MARK arguments")
	}
	// The agent's death ends the prober too, however the agent dies.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		fatal("prctl PR_SET_PDEATHSIG: %v", err)
	}
	var idBase [2]byte
	if _, err := rand.Read(token[:]); err != nil {
		fatal("random: %v", err)
	}
	if _, err := rand.Read(idBase[:]); err != nil {
		fatal("random: %v", err)
	}
	timeout := time.Duration(*timeoutMs) * time.Millisecond
	period := time.Duration(*periodMs) * time.Millisecond
	spread := time.Duration(*spreadMs) * time.Millisecond
	probes := make([]*probe, 0, flag.NArg())
	names := map[string]bool{}
	for i, s := range flag.Args() {
		p, err := parseSpec(s)
		if err != nil {
			fatal("%v", err)
		}
		if names[p.name] {
			fatal("name %q given twice", p.name)
		}
		names[p.name] = true
		p.id = (int(binary.BigEndian.Uint16(idBase[:])) + i) & 0xffff
		p.timeout = timeout
		if err := p.open(); err != nil {
			fatal("%v", err)
		}
		probes = append(probes, p)
	}
	for _, p := range probes {
		go p.receive()
	}
	// Sends on an absolute schedule (no drift); after a stall longer than a period (a stopped process) the schedule
	// restarts from now rather than sending the missed periods at once.
	start := time.Now()
	base := uint64(0)
	for seq := uint64(0); *count == 0 || seq < *count; seq++ {
		for i, p := range probes {
			due := start.Add(time.Duration(seq-base)*period + time.Duration(i)*spread)
			if late := time.Since(due); late > period {
				start, base = time.Now(), seq
				due = start.Add(time.Duration(i) * spread)
			}
			time.Sleep(time.Until(due))
			p.send(seq)
		}
	}
	// -count: every probe is resolved one timeout after its send.
	time.Sleep(timeout + 50*time.Millisecond)
	if replies.Load() != int64(*count)*int64(len(probes)) {
		os.Exit(1)
	}
}
