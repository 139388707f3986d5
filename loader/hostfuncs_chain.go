package loader

import (
	"context"
	"encoding/binary"

	"github.com/wasmhost/wasmhost/abi"
)

// The host functions of ABI 1.2: running the rest of a middleware chain,
// and the cookie services. They join the one table every engine builds its
// host module from.
func init() {
	hostFunctions = append(hostFunctions,
		hostFunction{abi.ImportNextStart, blocking(nextStart), []valueType{i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportNextWait, blocking(nextWait), []valueType{i32}, []valueType{i32}},
		hostFunction{abi.ImportNextRead, nextRead, []valueType{i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportNextBody, blocking(nextBody), []valueType{i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportCookieSign, cookieSign, []valueType{i32, i32, i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportCookieVerify, cookieVerify, []valueType{i32, i32, i32, i32, i32, i32}, []valueType{i32}},
		hostFunction{abi.ImportXSRFToken, xsrfToken, []valueType{i32, i32}, []valueType{i32}},
	)
}

func chainOf(ctx context.Context) ChainExchange {
	c, _ := exchangeOf(ctx).(ChainExchange)
	return c
}

func cookiesOf(ctx context.Context) CookieExchange {
	c, _ := exchangeOf(ctx).(CookieExchange)
	return c
}

func nextStart(ctx context.Context, mem guestMemory, stack []uint64) {
	req := limitedBytes(mem, abi.ImportNextStart, argU32(stack, 0), argU32(stack, 1), abi.MaxHeaderBytes)
	flags := argU32(stack, 2)
	c := chainOf(ctx)
	if c == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if !abi.ValidPairs(req) {
		setResult(stack, abi.ErrInvalid)
		return
	}
	setResult(stack, c.NextStart(req, flags))
}

func nextWait(ctx context.Context, mem guestMemory, stack []uint64) {
	sizePtr := argU32(stack, 0)
	out := guestBytes(mem, abi.ImportNextWait, sizePtr, 4) // checked before blocking
	c := chainOf(ctx)
	if c == nil {
		setResult(stack, abi.ErrState)
		return
	}
	ev, size := c.NextWait()
	if ev > 0 {
		// The slice is re-read: memory cannot grow while this call blocks,
		// but the check above must not be the only one that ever ran.
		out = guestBytes(mem, abi.ImportNextWait, sizePtr, 4)
		binary.LittleEndian.PutUint32(out, size)
	}
	setResult(stack, ev)
}

func nextRead(ctx context.Context, mem guestMemory, stack []uint64) {
	buf, bufLen := argU32(stack, 0), argU32(stack, 1)
	c := chainOf(ctx)
	if c == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if bufLen > 1<<30 {
		bufLen = 1 << 30
	}
	setResult(stack, c.NextRead(guestBytes(mem, abi.ImportNextRead, buf, bufLen)))
}

func nextBody(ctx context.Context, mem guestMemory, stack []uint64) {
	buf, n := argU32(stack, 0), argI32(stack, 1)
	c := chainOf(ctx)
	if c == nil {
		setResult(stack, abi.ErrState)
		return
	}
	if n < 0 {
		setResult(stack, c.NextBody(nil, n))
		return
	}
	setResult(stack, c.NextBody(limitedBytes(mem, abi.ImportNextBody, buf, uint32(n), abi.MaxWriteBytes), 0))
}

// copyOut is the environ_get convention: copy s into [buf, buf+bufLen) if
// it fits, and return its size either way.
func copyOut(mem guestMemory, fn string, buf, bufLen uint32, s string, stack []uint64) {
	if uint64(len(s)) <= uint64(bufLen) {
		copy(guestBytes(mem, fn, buf, uint32(len(s))), s)
	}
	setResult(stack, int32(len(s)))
}

func cookieSign(ctx context.Context, mem guestMemory, stack []uint64) {
	name := limitedBytes(mem, abi.ImportCookieSign, argU32(stack, 0), argU32(stack, 1), abi.MaxCookieBytes)
	value := limitedBytes(mem, abi.ImportCookieSign, argU32(stack, 2), argU32(stack, 3), abi.MaxCookieBytes)
	c := cookiesOf(ctx)
	if c == nil {
		setResult(stack, abi.ErrUnavailable)
		return
	}
	signed, errno := c.SignCookie(string(name), string(value))
	if errno < 0 {
		setResult(stack, errno)
		return
	}
	copyOut(mem, abi.ImportCookieSign, argU32(stack, 4), argU32(stack, 5), signed, stack)
}

func cookieVerify(ctx context.Context, mem guestMemory, stack []uint64) {
	name := limitedBytes(mem, abi.ImportCookieVerify, argU32(stack, 0), argU32(stack, 1), abi.MaxCookieBytes)
	signed := limitedBytes(mem, abi.ImportCookieVerify, argU32(stack, 2), argU32(stack, 3), abi.MaxCookieBytes)
	c := cookiesOf(ctx)
	if c == nil {
		setResult(stack, abi.ErrUnavailable)
		return
	}
	value, errno := c.VerifyCookie(string(name), string(signed))
	if errno < 0 {
		setResult(stack, errno)
		return
	}
	copyOut(mem, abi.ImportCookieVerify, argU32(stack, 4), argU32(stack, 5), value, stack)
}

func xsrfToken(ctx context.Context, mem guestMemory, stack []uint64) {
	c := cookiesOf(ctx)
	if c == nil {
		setResult(stack, abi.ErrUnavailable)
		return
	}
	tok, errno := c.XSRFToken()
	if errno < 0 {
		setResult(stack, errno)
		return
	}
	copyOut(mem, abi.ImportXSRFToken, argU32(stack, 0), argU32(stack, 1), tok, stack)
}
