// Package otel is the OpenTelemetry adapter: it emits a span per finished
// action to an OTLP/HTTP collector (go.opentelemetry.io/otel), so that
// Gatehouse's actions appear in the same traces as the applications they
// run. Each span has the action's own trace id and span id
// (gatehouse.Action.SpanID) — the ones its process got as TRACEPARENT and
// its proxied requests carry — so the application's spans, parented on
// TRACEPARENT, nest under it.
//
// It never holds an action up: Wrap's store notes each finished action in
// a bounded queue (dropping, and counting, when it is full), a goroutine
// turns them into spans, and the SDK's batch processor sends those on with
// a bounded queue of its own. A collector that is slow or down costs
// dropped spans, never a blocked or failed action.
//
// Spans carry the exact command (gatehouse.command), as the journal does:
// the journal never holds environment values, but a command line can hold
// a secret typed into it, and it then reaches the collector too.
package otel

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse"
)

// Config configures New.
type Config struct {
	// Endpoint is the collector's OTLP/HTTP URL, e.g.
	// http://collector:4318; /v1/traces is appended when it has no path.
	// Empty means what OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT say (see Enabled). The exporter also
	// reads the other standard OTEL_EXPORTER_OTLP_* variables (headers,
	// timeout, TLS certificates, compression).
	Endpoint string
	Version  string // service.version of the spans' resource
	// Queue bounds the finished actions waiting to become spans; 0 means
	// DefaultQueue. The SDK's own queue (OTEL_BSP_MAX_QUEUE_SIZE, 2048
	// spans by default) bounds those waiting to be sent.
	Queue  int
	Logger *slog.Logger
}

// DefaultQueue is Config.Queue's default.
const DefaultQueue = 4096

// Enabled reports whether the environment asks for an exporter when no
// endpoint is given: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT set, and OTEL_SDK_DISABLED not "true".
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// Exporter turns finished actions into spans. Create it with New, put it
// between the gateway and the store with Wrap, and Shutdown it before the
// store closes.
type Exporter struct {
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	log     *slog.Logger
	store   gatehouse.Store
	queue   chan string // ids of finished actions
	dropped atomic.Int64
	closing chan struct{}
	done    chan struct{}
	once    sync.Once
	mu      sync.RWMutex // held for reading by enqueue, for writing by Shutdown
	closed  bool
}

// New returns an exporter to cfg's endpoint. It does not connect: a
// collector that is down is noticed (and logged) when spans are sent.
// EINVALID if Endpoint is not an http or https URL.
func New(ctx context.Context, cfg Config) (*Exporter, error) {
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, gatehouse.Errorf(gatehouse.EINVALID, "otlp-endpoint: %q is not an http or https URL", cfg.Endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINVALID, "otel.New", err, "cannot configure the OTLP exporter: "+err.Error())
	}
	res := resource.NewSchemaless(attribute.String("service.name", "gatehouse"), attribute.String("service.version", cfg.Version))
	x := &Exporter{log: cfg.Logger, closing: make(chan struct{}), done: make(chan struct{})}
	if x.log == nil {
		x.log = slog.Default()
	}
	n := cfg.Queue
	if n <= 0 {
		n = DefaultQueue
	}
	x.queue = make(chan string, n)
	x.tp = sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp), // bounded queue; drops rather than blocks
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(actionIDs{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	x.tracer = x.tp.Tracer("github.com/gatehouse-dev/gatehouse")
	// The SDK reports failed exports through the global handler: to the
	// log, at most once a minute while a collector stays unreachable.
	var last atomic.Int64
	otelapi.SetErrorHandler(otelapi.ErrorHandlerFunc(func(err error) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev > int64(time.Minute) && last.CompareAndSwap(prev, now) {
			x.log.Warn("otlp: exporting spans failed (repeats are not logged for a minute)", "err", err)
		}
	}))
	return x, nil
}

// Wrap returns s with every appended action.finished noted for a span.
// Call it once; the exporter reads the finished actions from s.
func (x *Exporter) Wrap(s gatehouse.Store) gatehouse.Store {
	x.store = s
	go x.run()
	return &store{Store: s, x: x}
}

// Dropped counts the finished actions that got no span because the queue
// was full.
func (x *Exporter) Dropped() int64 { return x.dropped.Load() }

// store is a gatehouse.Store that tells the exporter of finished actions.
type store struct {
	gatehouse.Store
	x *Exporter
}

// Unwrap returns the store s wraps, for those who need more of it than
// gatehouse.Store (a snapshot to verify in, say).
func (s *store) Unwrap() gatehouse.Store { return s.Store }

func (s *store) Append(ctx context.Context, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	linked, err := s.Store.Append(ctx, events...)
	if err == nil {
		for _, e := range linked {
			if e.Type == gatehouse.EventActionFinished {
				s.x.enqueue(e.Subject)
			}
		}
	}
	return linked, err
}

// enqueue notes a finished action, or drops it if the queue is full or the
// exporter is shutting down. It never blocks.
func (x *Exporter) enqueue(id string) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return
	}
	select {
	case x.queue <- id:
	default:
		if x.dropped.Add(1) == 1 {
			x.log.Warn("otlp: the span queue is full; spans of finished actions are being dropped")
		}
	}
}

// run turns queued actions into spans until the queue is closed.
func (x *Exporter) run() {
	defer close(x.done)
	for id := range x.queue {
		a, err := x.store.Action(context.Background(), id)
		if err != nil {
			x.log.Warn("otlp: cannot read a finished action for its span", "action", id, "err", err)
			continue
		}
		x.emit(a)
	}
}

// Span is what the exporter records of an action, for tests and docs:
// the name and attributes of its span.
func Span(a *gatehouse.Action) (name string, attrs []attribute.KeyValue) {
	attrs = []attribute.KeyValue{
		attribute.String("gatehouse.action.id", a.ID),
		attribute.String("gatehouse.agent", a.Agent),
		attribute.String("gatehouse.session", a.Session),
		attribute.String("gatehouse.kind", string(a.Kind)),
		attribute.String("gatehouse.command", a.Command),
		attribute.String("gatehouse.system", a.System),
		attribute.String("gatehouse.decision", string(a.Decision.Effect)),
		attribute.String("gatehouse.rule", a.Decision.Rule),
		attribute.String("gatehouse.status", string(a.Status)),
	}
	if a.ExitCode != nil {
		attrs = append(attrs, attribute.Int("process.exit.code", *a.ExitCode))
	}
	if a.Signal != "" {
		attrs = append(attrs, attribute.String("gatehouse.signal", a.Signal))
	}
	if a.Error != "" {
		attrs = append(attrs, attribute.String("gatehouse.error", a.Error))
	}
	if a.Analysis != nil {
		attrs = append(attrs, attribute.String("gatehouse.class", string(a.Analysis.Class)), attribute.Int("gatehouse.risk", a.Analysis.Risk))
	}
	if a.Intent != "" {
		attrs = append(attrs, attribute.String("gatehouse.intent", a.Intent))
	}
	return "gatehouse " + string(a.Kind), attrs
}

// emit records a's span: from its request to its end, with its start as an
// event, its own trace and span ids, and an error status if it failed or
// was interrupted.
func (x *Exporter) emit(a *gatehouse.Action) {
	tid, err1 := trace.TraceIDFromHex(a.TraceID)
	sid, err2 := trace.SpanIDFromHex(a.SpanID())
	if err1 != nil || err2 != nil || a.FinishedAt == nil {
		return // no trace id (a tampered or foreign row): no span
	}
	name, attrs := Span(a)
	ctx := context.WithValue(context.Background(), idsKey{}, fixedIDs{tid, sid})
	_, span := x.tracer.Start(ctx, name, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(a.Time), trace.WithAttributes(attrs...))
	if a.StartedAt != nil {
		span.AddEvent("started", trace.WithTimestamp(*a.StartedAt))
	}
	switch a.Status {
	case gatehouse.StatusFailed, gatehouse.StatusInterrupted:
		msg := a.Error
		if msg == "" {
			msg = string(a.Status)
		}
		span.SetStatus(codes.Error, msg)
	}
	span.End(trace.WithTimestamp(*a.FinishedAt))
}

// Shutdown stops taking finished actions, turns those queued into spans
// and sends what the SDK holds, until ctx is done; what is not sent by
// then is dropped. It is idempotent.
func (x *Exporter) Shutdown(ctx context.Context) error {
	var err error
	x.once.Do(func() {
		x.mu.Lock()
		x.closed = true
		close(x.queue)
		x.mu.Unlock()
		if x.store != nil {
			select {
			case <-x.done:
			case <-ctx.Done():
			}
		}
		err = x.tp.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = fmt.Errorf("otlp: spans not sent before shutdown: %w", err)
		}
		if n := x.dropped.Load(); n > 0 {
			x.log.Warn("otlp: spans dropped because the queue was full", "count", n)
		}
	})
	return err
}

// actionIDs gives a new root span the trace and span ids its context
// carries (the action's), and random ones otherwise.
type actionIDs struct{}

type idsKey struct{}

type fixedIDs struct {
	tid trace.TraceID
	sid trace.SpanID
}

func (actionIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if f, ok := ctx.Value(idsKey{}).(fixedIDs); ok {
		return f.tid, f.sid
	}
	var t trace.TraceID
	var s trace.SpanID
	_, _ = randRead(t[:])
	_, _ = randRead(s[:])
	return t, s
}

func (actionIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if f, ok := ctx.Value(idsKey{}).(fixedIDs); ok {
		return f.sid
	}
	var s trace.SpanID
	_, _ = randRead(s[:])
	return s
}

var randRead = rand.Read
