// Package gateway is the host's side of the gateway protocol, the parts
// that the client's exchange and the links of a middleware chain share:
// who a request is from (xheaders applied) and the local address it came
// to, the environ a guest reads (abi's keys, CGI's split of the path),
// the checks a guest's response head must pass (a status from 200 to 999,
// header names that are tokens, values without control characters: no
// header injection), a guest's log records (their level and fields, and
// the text kept for the error page), and the buffer that holds part of a
// body in memory and the rest in an unlinked temporary file.
package gateway
