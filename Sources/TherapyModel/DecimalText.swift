/// Exact decimal text for fixed-point integers, without Foundation or floating point.
enum DecimalText {
    /// Formats `value / scale` with as many decimals as needed and no trailing zeros:
    /// `format(25, scale: 1000) == "0.025"`, `format(-1500, scale: 1000) == "-1.5"`.
    /// `scale` must be a power of ten; `Int64.min` is handled through its magnitude.
    static func format(_ value: Int64, scale: UInt64) -> String {
        let magnitude = value.magnitude
        let whole = magnitude / scale
        var fraction = magnitude % scale
        var sign = value < 0 ? "-" : ""
        if magnitude == 0 { sign = "" }
        guard fraction != 0 else { return sign + String(whole) }
        var digits = 0
        var remainingScale = scale
        while remainingScale > 1 {
            remainingScale /= 10
            digits += 1
        }
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        var fractionText = String(fraction)
        // Digits are ASCII: counting UTF-8 bytes is counting characters, without the grapheme
        // breaking (and its Unicode tables) that `String.count` brings into the firmware.
        while fractionText.utf8.count < digits {
            fractionText = "0" + fractionText
        }
        return sign + String(whole) + "." + fractionText
    }
}
