// Command etcd_load loads an etcd cluster the way etcd's own `tools/benchmark` does, for
// bench/independent.sh (issue 20). That tool is not packaged in Debian; this one builds offline
// in GOPATH mode against Debian's golang-etcd-server-dev (etcd 3.4's clientv3).
//
//	etcd_load put   [flags]        writes: one key per request, from --key-space-size keys
//	etcd_load range [flags] [KEY]  reads: KEY, or a random key of --key-space-size keys
//
// The load model is benchmark's (tools/benchmark/cmd/util.go, put.go, range.go of etcd 3.4):
// --conns clientv3 clients (one gRPC connection each), dialled round-robin over --endpoints;
// --clients goroutines, client i using connection i mod --conns, each with one request in
// flight at a time, taking requests from one producer until --total have been issued. Keys
// are --key-size bytes holding a varint of the key number (zero-padded), as benchmark makes
// them, and every put carries the same random --val-size value.
//
// Prints one JSON line on stdout at the end, named like raftkv-bench's: ops (successful
// requests), errors, duration_s (first request sent to last answer), throughput (ops per
// second over that time, as benchmark's "Requests/sec"), p50/p90/p99/p99.9/max latency in ms
// of the successful requests, and the first error's text. Exits 1 if it cannot connect or
// every request failed, 2 on bad usage.
package main

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc"
)

type options struct {
	command      string
	endpoints    []string
	clients      int
	conns        int
	total        int
	keySize      int
	valSize      int
	keySpaceSize int
	sequential   bool
	consistency  string
	rangeKey     string
	timeout      time.Duration
	label        string
}

// clientResult is what one client goroutine measured; only that goroutine writes it.
type clientResult struct {
	latencies  []time.Duration
	errors     int
	firstError string
}

func usage(flags *flag.FlagSet, problem string) {
	fmt.Fprintf(os.Stderr, "etcd_load: %s\nusage: etcd_load put|range [flags] [KEY]\n", problem)
	if flags != nil {
		flags.PrintDefaults()
	}
	os.Exit(2)
}

func parseOptions(args []string) options {
	if len(args) < 1 || (args[0] != "put" && args[0] != "range") {
		usage(nil, "the first argument is the command: put or range")
	}
	o := options{command: args[0]}
	flags := flag.NewFlagSet(o.command, flag.ContinueOnError)
	endpoints := flags.String("endpoints", "127.0.0.1:2379", "comma-separated host:port list")
	flags.IntVar(&o.clients, "clients", 1, "concurrent requests (goroutines)")
	flags.IntVar(&o.conns, "conns", 1, "gRPC connections the clients share")
	flags.IntVar(&o.total, "total", 10000, "requests to issue")
	flags.IntVar(&o.keySize, "key-size", 8, "key size in bytes")
	flags.IntVar(&o.valSize, "val-size", 8, "value size in bytes (put)")
	flags.IntVar(&o.keySpaceSize, "key-space-size", 1,
		"keys to choose from (put; range without KEY)")
	flags.BoolVar(&o.sequential, "sequential-keys", false, "key i mod key-space-size (put)")
	flags.StringVar(&o.consistency, "consistency", "l", "range: l (linearizable) or s")
	flags.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	flags.StringVar(&o.label, "label", "", "copied into the JSON line")
	flags.SetOutput(os.Stderr)
	if err := flags.Parse(args[1:]); err != nil {
		usage(nil, err.Error())
	}
	o.endpoints = strings.Split(*endpoints, ",")
	switch {
	case o.clients < 1 || o.conns < 1 || o.total < 1:
		usage(flags, "--clients, --conns and --total must be at least 1")
	case o.valSize < 0 || o.keySpaceSize < 1:
		usage(flags, "--val-size must be at least 0 and --key-space-size at least 1")
	case o.keySize < varintSize(o.keySpaceSize-1):
		usage(flags, "--key-size is too small to hold --key-space-size distinct keys")
	case o.consistency != "l" && o.consistency != "s":
		usage(flags, "--consistency must be l or s")
	case flags.NArg() > 1 || (flags.NArg() == 1 && o.command == "put"):
		usage(flags, "too many arguments")
	}
	if flags.NArg() == 1 {
		o.rangeKey = flags.Arg(0)
	}
	return o
}

// varintSize is the bytes binary.PutVarint takes for number.
func varintSize(number int) int {
	var buffer [binary.MaxVarintLen64]byte
	return binary.PutVarint(buffer[:], int64(number))
}

// connect dials conns clientv3 clients, round-robin over the endpoints (benchmark's
// mustCreateConn), and returns one per client goroutine (benchmark's mustCreateClients).
func connect(o options) ([]*clientv3.Client, []*clientv3.Client, error) {
	conns := make([]*clientv3.Client, o.conns)
	for i := range conns {
		client, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{o.endpoints[i%len(o.endpoints)]},
			DialTimeout: 5 * time.Second,
			// Fail here, not as a timeout on every request, when an endpoint is down.
			DialOptions: []grpc.DialOption{grpc.WithBlock()},
		})
		if err != nil {
			closeAll(conns[:i])
			return nil, nil, fmt.Errorf("connecting to %s: %v", o.endpoints[i%len(o.endpoints)], err)
		}
		conns[i] = client
	}
	clients := make([]*clientv3.Client, o.clients)
	for i := range clients {
		clients[i] = conns[i%o.conns]
	}
	return conns, clients, nil
}

func closeAll(conns []*clientv3.Client) {
	for _, conn := range conns {
		conn.Close()
	}
}

// produce issues o.total requests on a channel that the clients drain, as benchmark does.
func produce(o options, requests chan<- clientv3.Op) {
	defer close(requests)
	key := make([]byte, o.keySize)
	value := make([]byte, o.valSize)
	if _, err := cryptorand.Read(value); err != nil {
		panic(err) // The kernel's random source failing is not an operating error.
	}
	for i := 0; i < o.total; i++ {
		number := rand.Intn(o.keySpaceSize)
		if o.sequential {
			number = i % o.keySpaceSize
		}
		binary.PutVarint(key, int64(number))
		switch {
		case o.command == "put":
			requests <- clientv3.OpPut(string(key), string(value))
		case o.consistency == "s":
			requests <- clientv3.OpGet(readKey(o, key), clientv3.WithSerializable())
		default:
			requests <- clientv3.OpGet(readKey(o, key))
		}
	}
}

func readKey(o options, random []byte) string {
	if o.rangeKey != "" {
		return o.rangeKey
	}
	return string(random)
}

// work sends one request at a time from requests until the channel closes.
func work(o options, client *clientv3.Client, requests <-chan clientv3.Op, out *clientResult) {
	out.latencies = make([]time.Duration, 0, o.total/o.clients+1)
	for op := range requests {
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		start := time.Now()
		_, err := client.Do(ctx, op)
		elapsed := time.Since(start)
		cancel()
		if err != nil {
			if out.errors == 0 {
				out.firstError = err.Error()
			}
			out.errors++
			continue
		}
		out.latencies = append(out.latencies, elapsed)
	}
}

func percentileMs(sorted []time.Duration, percent float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	index := int(float64(len(sorted)-1) * percent / 100)
	return float64(sorted[index].Microseconds()) / 1000
}

func report(o options, results []clientResult, elapsed time.Duration) (int, error) {
	var latencies []time.Duration
	errors, firstError := 0, ""
	for _, r := range results {
		latencies = append(latencies, r.latencies...)
		if firstError == "" {
			firstError = r.firstError
		}
		errors += r.errors
	}
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	readMode := map[string]string{"l": "linearizable", "s": "serializable"}[o.consistency]
	if o.command == "put" {
		readMode = ""
	}
	line, err := json.Marshal(map[string]interface{}{
		"target": "etcd", "tool": "etcd_load", "command": o.command, "label": o.label,
		"clients": o.clients, "connections": o.conns, "read_mode": readMode,
		"key_size": o.keySize, "value_size": o.valSize, "ops": len(latencies),
		"errors": errors, "duration_s": elapsed.Seconds(),
		"throughput": float64(len(latencies)) / elapsed.Seconds(),
		"p50_ms":     percentileMs(latencies, 50), "p90_ms": percentileMs(latencies, 90),
		"p99_ms": percentileMs(latencies, 99), "p999_ms": percentileMs(latencies, 99.9),
		"max_ms": percentileMs(latencies, 100), "first_error": firstError,
	})
	if err != nil {
		return 0, err
	}
	fmt.Println(string(line))
	return len(latencies), nil
}

func main() {
	o := parseOptions(os.Args[1:])
	conns, clients, err := connect(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd_load: %v\n", err)
		os.Exit(1)
	}
	defer closeAll(conns)

	requests := make(chan clientv3.Op, o.clients)
	results := make([]clientResult, o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			work(o, clients[i], requests, &results[i])
		}(i)
	}
	go produce(o, requests)
	wg.Wait()
	ops, err := report(o, results, time.Since(start))
	if err != nil || ops == 0 {
		fmt.Fprintf(os.Stderr, "etcd_load: no request succeeded (%v)\n", err)
		os.Exit(1)
	}
}
