package host

import (
	"strings"
	"testing"
	"time"
)

func TestSignedValues(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const cur, old = "current-secret-0123456789", "previous-secret-0123456789"
	signed := signValue(cur, "user", "alice|admin", now)
	if strings.Contains(signed, cur) || strings.Contains(signed, "alice") {
		t.Fatalf("signed value %q shows the secret or the value in clear", signed)
	}
	check := func(name string, secrets []string, value string, age time.Duration, want string, ok bool) {
		t.Helper()
		got, good := verifyValue(secrets, name, value, 744*time.Hour, now.Add(age))
		if got != want || good != ok {
			t.Errorf("verify(%q, %q, age %v) = %q %v, want %q %v", name, value, age, got, good, want, ok)
		}
	}
	check("user", []string{cur, ""}, signed, time.Hour, "alice|admin", true)
	check("user", []string{cur, ""}, signed, 745*time.Hour, "", false) // expired
	check("user", []string{cur, ""}, signed, -time.Hour, "", false)    // from the future
	check("other", []string{cur, ""}, signed, 0, "", false)            // moved to another cookie
	check("user", []string{old, ""}, signed, 0, "", false)             // another secret
	check("user", []string{old, cur}, signed, 0, "alice|admin", true)  // rotated: the previous secret still verifies
	parts := strings.Split(signed, "|")
	forgeries := []string{
		"", "2|", "1|" + strings.Join(parts[1:], "|"),
		strings.Join([]string{parts[0], "Ym9i", parts[2], parts[3]}, "|"),                    // another value
		strings.Join([]string{parts[0], parts[1], "1900000000", parts[3]}, "|"),              // another date
		strings.Join([]string{parts[0], parts[1], parts[2], strings.Repeat("0", 64)}, "|"),   // another MAC
		strings.Join([]string{parts[0], parts[1], parts[2], parts[3][:63]}, "|"),             // a truncated MAC
		strings.Join([]string{parts[0], parts[1], parts[2], parts[3], "x"}, "|"),             // extra field
		strings.Join([]string{parts[0], parts[1], parts[2], strings.ToUpper(parts[3])}, "|"), // case of the hex
	}
	for _, f := range forgeries {
		check("user", []string{cur, old}, f, 0, "", false)
	}
}

func TestXSRFTokens(t *testing.T) {
	tok := []byte("0123456789abcdef")
	a, b := maskXSRF(tok), maskXSRF(tok)
	if a == b {
		t.Errorf("two maskings of one token are equal: %q", a)
	}
	for _, m := range []string{a, b} {
		if got := unmaskXSRF(m); string(got) != string(tok) {
			t.Errorf("unmask(%q) = %q, want the token", m, got)
		}
	}
	for _, bad := range []string{"", "2|zz|00|1", "2|00|00|1", "3|" + a[2:], a[:len(a)-20]} {
		if got := unmaskXSRF(bad); got != nil {
			t.Errorf("unmask(%q) = %q, want nil", bad, got)
		}
	}
}
