// Package apicheck holds tests that hold every public package of the
// module to the rules partners rely on, whichever package they use:
//
//   - Every option constructor validates its values. A bad value (zero or
//     negative where meaningless included), or a nil option, is an error of
//     the function that applies the options, wrapping
//     ivclient.ErrInvalidArgument, whose text reads
//     "<package>: <Function>: invalid argument: <Option>: <what>". No
//     clamping, no panic, nothing skipped; defaults come from leaving an
//     option out.
//   - Every exported option constructor has a case in the table of
//     options_test.go: a new option without one fails the test.
//
// It has no code of its own.
package apicheck
