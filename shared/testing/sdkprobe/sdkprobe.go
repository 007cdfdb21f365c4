// Package sdkprobe is SDK middleware that records every AWS request an
// operation makes (for counts in tests and benchmarks) and injects faults:
// a call fails before it reaches AWS, or after AWS applied it (the caller
// crashed and never saw the answer).
package sdkprobe

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// ErrInjected is the error injected faults return.
var ErrInjected = errors.New("sdkprobe: injected fault")

// Fault fails one call of an operation ("S3.CompleteMultipartUpload"), or
// runs something just before it.
type Fault struct {
	Op    string
	After bool // true: the request reaches AWS, the response is lost
	Skip  int  // let this many matching calls pass first
	// Run, when set, runs just before the call, which then goes on
	// unharmed: a concurrent change lands between two steps.
	Run func()
	// Consumer: the fault hits a call of this consumer's invocation
	// (lambdas.WithConsumer); "": of a request's.
	Consumer string
}

// Probe records calls and injects armed faults.
type Probe struct {
	// MeasureCapacity estimates the request units every DynamoDB call is
	// billed (see Billed; benchmarks).
	MeasureCapacity bool

	mu    sync.Mutex
	calls []string
	// consumers' calls and units, by consumer: kept apart from the
	// requests'
	consumed       map[string][]string
	consumerBilled map[string]Billed
	faults         []Fault
	billed         Billed
	writes         []Write
	// items returned by queries and their bytes, for the mean size of
	// items a filter dropped
	seenItems, seenBytes int
}

// Install adds the probe to an AWS config's middleware stacks.
func (p *Probe) Install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		if err := s.Initialize.Add(middleware.InitializeMiddlewareFunc("sdkprobe-capacity", p.measure), middleware.Before); err != nil {
			return err
		}
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("sdkprobe", p.handle), middleware.After)
	})
}

// measure adds up the estimated billed units of DynamoDB calls.
func (p *Probe) measure(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	if !p.MeasureCapacity {
		return next.HandleInitialize(ctx, in)
	}
	if consumer := lambdas.ConsumerOf(ctx); consumer != "" {
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil {
			b := estimate(in.Parameters, out.Result, 0)
			p.mu.Lock()
			if p.consumerBilled == nil {
				p.consumerBilled = map[string]Billed{}
			}
			c := p.consumerBilled[consumer]
			c.RRU, c.WRU = c.RRU+b.RRU, c.WRU+b.WRU
			p.consumerBilled[consumer] = c
			p.mu.Unlock()
		}
		return out, md, err
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err == nil {
		p.mu.Lock()
		mean := 0
		if p.seenItems > 0 {
			mean = p.seenBytes / p.seenItems
		}
		b := estimate(in.Parameters, out.Result, mean)
		if q, ok := out.Result.(*dynamodb.QueryOutput); ok {
			for _, it := range q.Items {
				p.seenItems++
				p.seenBytes += ItemSize(it)
			}
		}
		p.billed.RRU += b.RRU
		p.billed.WRU += b.WRU
		p.writes = append(p.writes, writes(in.Parameters)...)
		p.mu.Unlock()
	}
	return out, md, err
}

// Billed returns the request units AWS would bill for the DynamoDB calls
// since the last Reset (an estimate from item sizes; see Billed).
func (p *Probe) Billed() Billed {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.billed
}

func (p *Probe) handle(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	op := awsmw.GetServiceID(ctx) + "." + awsmw.GetOperationName(ctx)
	consumer := lambdas.ConsumerOf(ctx)
	p.mu.Lock()
	if consumer == "" {
		p.calls = append(p.calls, op)
	} else {
		if p.consumed == nil {
			p.consumed = map[string][]string{}
		}
		p.consumed[consumer] = append(p.consumed[consumer], op)
	}
	fault, armed := p.take(op, consumer)
	p.mu.Unlock()
	if armed && fault.Run != nil {
		fault.Run()
		return next.HandleFinalize(ctx, in)
	}
	if armed && !fault.After {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("%w before %s", ErrInjected, op)
	}
	out, md, err := next.HandleFinalize(ctx, in)
	if armed && err == nil {
		return middleware.FinalizeOutput{}, md, fmt.Errorf("%w after %s", ErrInjected, op)
	}
	return out, md, err
}

func (p *Probe) take(op, consumer string) (Fault, bool) {
	for i, f := range p.faults {
		if f.Op != op || f.Consumer != consumer {
			continue
		}
		if f.Skip > 0 {
			p.faults[i].Skip--
			return Fault{}, false
		}
		p.faults = append(p.faults[:i], p.faults[i+1:]...)
		return f, true
	}
	return Fault{}, false
}

// Arm makes the next call of f.Op fail.
func (p *Probe) Arm(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
}

// Disarm removes unfired faults.
func (p *Probe) Disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Reset clears the recorded calls.
func (p *Probe) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
	p.consumed, p.consumerBilled = nil, nil
	p.billed = Billed{}
	p.writes = nil
}

// Writes returns the items DynamoDB writes since the last Reset wrote, in
// order (with MeasureCapacity).
func (p *Probe) Writes() []Write {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Write(nil), p.writes...)
}

// BilledOf returns the request units of a consumer's DynamoDB calls since
// the last Reset (with MeasureCapacity).
func (p *Probe) BilledOf(consumer string) Billed {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.consumerBilled[consumer]
}

// CallsOf returns the operations a consumer's invocations made since the
// last Reset, in order.
func (p *Probe) CallsOf(consumer string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.consumed[consumer]...)
}

// Calls returns the operations requests made since the last Reset, in
// order (not the consumers': see CallsOf).
func (p *Probe) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}
