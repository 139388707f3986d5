package sdk

import "net/http"

// Transport is the http.RoundTripper of outbound requests. In a plugin it
// sends each request through the host, which allows only the
// destinations in the plugin's allowed_hosts; the SDK also installs it as
// http.DefaultTransport, so http.Get, http.DefaultClient and libraries
// built on them work unchanged. A refused destination is an error whose
// text contains "not allowed" and names it. Natively it is the
// http.DefaultTransport the program started with, so a plugin's tests can
// call a local httptest server.
var Transport http.RoundTripper = defaultTransport()

// HTTPClient returns a client using Transport. It follows redirects as
// http.Client does; the host checks each one against allowed_hosts.
func HTTPClient() *http.Client { return &http.Client{Transport: Transport} }
