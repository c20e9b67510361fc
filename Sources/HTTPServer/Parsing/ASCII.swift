// The wire layer (Parsing/ and Messages/HTTP*.swift) uses nothing else of the module, so the
// fuzzers (fuzz/run.sh) build it on its own; `make test` runs them, which keeps it so.

/// The value of a hexadecimal digit (chunk sizes, percent-encoding), or nil.
@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
