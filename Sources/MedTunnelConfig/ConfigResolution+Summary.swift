extension ConfigResolution {
    /// What `medtunnel config check` prints: one line per option with its effective value and
    /// where it came from. A secret given in place is never printed, and secret files are shown
    /// by path only (their content is never read here).
    public func summary() -> String {
        let width = (self.settings.map(\.option.name.count).max() ?? 0) + 2
        var lines = ["\(self.command.name): effective settings (command line > environment > file > default)"]
        for setting in self.settings {
            let name = setting.option.name.padding(width)
            let value: String
            switch (setting.value, setting.option.exposure) {
            case (nil, _) where setting.source == .commandLine: value = "(from the command line)"
            case (nil, _): value = "(not set)"
            case (.some, .secretValue): value = "(set, not shown)"
            case (.text(let text), .secretPath): value = "\(text) (a secret's file: shown by path only)"
            case (.text(let text), _): value = text
            case (.texts(let texts), _): value = texts.joined(separator: ", ")
            case (.flag(let on), _): value = on ? "true" : "false"
            }
            let source: String
            switch setting.source {
            case .commandLine: source = "command line"
            case .environment(let variable): source = "environment \(variable)"
            case .file(let place): source = place
            case .defaultValue: source = "default"
            case .unset: source = ""
            }
            lines.append(("  " + name + value.padding(40) + "  " + source).trailingSpacesRemoved)
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        self.count >= width ? self : self + String(repeating: " ", count: width - self.count)
    }

    fileprivate var trailingSpacesRemoved: String {
        var text = Substring(self)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
