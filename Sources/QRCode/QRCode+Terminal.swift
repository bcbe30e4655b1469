extension QRCode {
    /// The symbol as text for a terminal: each character is one module wide and two high
    /// (Unicode half blocks), with `quietZone` light modules around it, lines ending in "\n".
    ///
    /// `lightOnDark` (the default, for the usual dark terminal) draws the light modules as
    /// blocks and leaves dark ones blank, so the symbol reads dark-on-light as a scanner wants;
    /// pass false for a terminal with a light background.
    public func terminalText(quietZone: Int = 2, lightOnDark: Bool = true) -> String {
        let margin = max(0, quietZone)
        let range = -margin..<(self.size + margin)
        var text = ""
        var y = range.lowerBound
        while y < range.upperBound {
            for x in range {
                // "Filled" is what the terminal's foreground draws.
                let top = self.isDark(x: x, y: y) != lightOnDark
                let bottom = y + 1 < range.upperBound ? self.isDark(x: x, y: y + 1) != lightOnDark : !lightOnDark
                let cell: String =
                    switch (top, bottom) {
                    case (true, true): "\u{2588}"  // █
                    case (true, false): "\u{2580}"  // ▀
                    case (false, true): "\u{2584}"  // ▄
                    case (false, false): " "
                    }
                text += cell
            }
            text += "\n"
            y += 2
        }
        return text
    }
}
