import Foundation
import MedTunnelTestSupport
import Testing

/// Every `medtunnel …` command line in README.md and docs/ (in code blocks and inline code)
/// names subcommands and options the binary has: the binary's own description of itself
/// (`--experimental-dump-help`, ArgumentParser's JSON of every command and option) is the
/// reference, so a renamed flag or a removed subcommand fails here, in the page that still shows
/// it. The README's tour is also run as written (``ReadmeTourTests``); these pages hold commands
/// for other machines (systemd hosts, a witness, a restore) that a test cannot run as they stand.
@Suite("docs: each medtunnel command shown names real subcommands and options", .offThePool)
struct DocsCommandTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One command of the binary's tree: its options' spellings and its subcommands.
    struct Command {
        let name: String
        let options: Set<String>
        let subcommands: [String: Command]
        let defaultSubcommand: String?

        init(_ json: [String: Any]) {
            self.name = json["commandName"] as? String ?? "?"
            var options: Set<String> = ["--help", "-h", "--version"]
            for argument in json["arguments"] as? [[String: Any]] ?? [] {
                for name in argument["names"] as? [[String: Any]] ?? [] {
                    guard let text = name["name"] as? String else { continue }
                    options.insert((name["kind"] as? String == "short" ? "-" : "--") + text)
                }
            }
            self.options = options
            var subcommands: [String: Command] = [:]
            for sub in json["subcommands"] as? [[String: Any]] ?? [] {
                let command = Command(sub)
                subcommands[command.name] = command
            }
            self.subcommands = subcommands
            self.defaultSubcommand = json["defaultSubcommand"] as? String
        }
    }

    /// A command line found in a page.
    struct Shown: CustomStringConvertible {
        let page: String
        let line: String
        var description: String { "\(self.page): \(self.line)" }
    }

    /// The lines of fenced and indented code blocks (with `\` continuations joined) and the inline
    /// code spans.
    static func codeLines(_ text: String) -> [String] {
        var lines: [String] = []
        var inBlock = false
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                inBlock.toggle()
                pending = ""
                continue
            }
            // Fenced blocks, and indented ones (four spaces).
            if inBlock || line.hasPrefix("    ") || !pending.isEmpty {
                if line.hasSuffix("\\") {
                    pending += line.dropLast() + " "
                } else {
                    lines.append(pending + line)
                    pending = ""
                }
            } else {
                let spans = line.split(separator: "`", omittingEmptySubsequences: false)
                for (index, span) in spans.enumerated() where index % 2 == 1 { lines.append(String(span)) }
            }
        }
        return lines
    }

    /// The words of each `medtunnel` command in `line`: the line is cut at pipes, `&&`, `;`, `#`
    /// and redirections, and a command starts after a prompt, `sudo`, or variable assignments.
    static func commands(in line: String) -> [[String]] {
        var commands: [[String]] = []
        var current: [String] = []
        var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        words.append("|")
        for word in words {
            if ["|", "||", "&&", ";", "&"].contains(word) || word.hasPrefix("#") || word.hasPrefix(">")
                || word.hasPrefix("2>") || word.hasPrefix("<")
            {
                var command = current[...]
                while let first = command.first,
                    first == "$" || first == "sudo" || first == "exec" || first.contains("=") && !first.hasPrefix("-")
                {
                    command = command.dropFirst()
                }
                if let first = command.first, first == "medtunnel" || first.hasSuffix("/medtunnel") {
                    commands.append(Array(command.dropFirst()))
                }
                current = []
                if word.hasPrefix("#") { break }
                continue
            }
            current.append(word)
        }
        return commands
    }

    /// What is wrong with `words` as arguments of `tree`, if anything.
    static func problems(_ words: [String], tree: Command) -> [String] {
        var command = tree
        var path = ["medtunnel"]
        var rest = words[...]
        while let word = rest.first, let sub = command.subcommands[word] {
            command = sub
            path.append(word)
            rest = rest.dropFirst()
        }
        // `medtunnel user` in prose names a command group, `/var/lib/medtunnel` a folder: not lines to run.
        guard let next = rest.first else { return [] }
        if !command.subcommands.isEmpty, command.defaultSubcommand == nil {
            // `medtunnel audit --help` and the like are fine; anything else needs a subcommand.
            if !command.options.contains(next) {
                return ["\(path.joined(separator: " ")) has no subcommand \(next)"]
            }
        }
        if let name = command.defaultSubcommand, let sub = command.subcommands[name] {
            command = sub
            path.append("(\(name))")
        }
        var found: [String] = []
        for word in rest {
            let option = String(
                word.trimmingCharacters(in: CharacterSet(charactersIn: "[](),'\"")).prefix { $0 != "=" }
            )
            guard option.hasPrefix("--"), option.count > 2 else { continue }
            if !command.options.contains(option) {
                found.append("\(path.joined(separator: " ")) has no option \(option)")
            }
        }
        return found
    }

    @Test("every medtunnel command line in README.md and docs/*.md parses against the binary's own command tree")
    func commandsExist() throws {
        let dump = try ProcessHarness.medtunnel(["--experimental-dump-help"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any]
        )
        let tree = Command(try #require(json["command"] as? [String: Any]))
        #expect(tree.subcommands["gateway"]?.options.contains("--state-dir") == true, "the dump is not understood")

        let docs = Self.root.appendingPathComponent("docs")
        let pages =
            try FileManager.default.contentsOfDirectory(atPath: docs.path)
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 } + ["README.md"]
        var shown = 0
        var problems: [String] = []
        for page in pages {
            let text = try String(contentsOf: Self.root.appendingPathComponent(page), encoding: .utf8)
            for line in Self.codeLines(text) {
                for words in Self.commands(in: line) {
                    shown += 1
                    problems += Self.problems(words, tree: tree).map { "\(page): \($0)\n    \(line)" }
                }
            }
        }
        // Enough to show the scan reads the pages (there are well over a hundred).
        #expect(shown > 100, "only \(shown) commands found")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("the scan itself: a renamed flag, an unknown subcommand and a default subcommand's options are told apart")
    func scanner() {
        let tree = Command([
            "commandName": "medtunnel",
            "subcommands": [
                [
                    "commandName": "witness", "defaultSubcommand": "run",
                    "subcommands": [
                        ["commandName": "run", "arguments": [["names": [["kind": "long", "name": "log"]]]]]
                    ],
                ],
                [
                    "commandName": "audit",
                    "subcommands": [
                        [
                            "commandName": "show",
                            "arguments": [["names": [["kind": "long", "name": "state-dir"]]]],
                        ]
                    ],
                ],
            ],
        ])
        let lines = Self.codeLines(
            """
            Run `medtunnel audit show --state-dir S` or:

                medtunnel audit show --state-dri S

            ```
            $ sudo MEDTUNNEL_X=1 medtunnel witness --log http://g \\
                --state s.json | tee out   # comment --nope
            useradd --shell /usr/sbin/nologin medtunnel
            chown medtunnel /var/lib/medtunnel
            medtunnel audit shwo --state-dir S
            ```
            """
        )
        let commands = lines.flatMap { Self.commands(in: $0) }
        #expect(commands.count == 4, "\(commands)")
        let problems = commands.flatMap { Self.problems($0, tree: tree) }
        #expect(
            problems == [
                "medtunnel audit show has no option --state-dri",
                "medtunnel witness (run) has no option --state",
                "medtunnel audit has no subcommand shwo",
            ],
            "\(problems)"
        )
    }
}

/// The "Try it" walkthroughs of docs/: each page's shell block between `<!-- run:begin -->` and
/// `<!-- run:end -->`, run as written in a fresh folder with `medtunnel` on PATH (`set -e`, so
/// each command, and each `grep` that checks what one printed, must succeed).
@Suite("docs: each page's walkthrough runs as written", .offThePool)
struct DocsWalkthroughTests {
    static let pages = ["access.md", "audit.md", "backup.md", "pki.md", "configuration.md"]

    static func walkthrough(_ page: String) throws -> String {
        let text = try String(
            contentsOf: DocsCommandTests.root.appendingPathComponent("docs").appendingPathComponent(page),
            encoding: .utf8
        )
        let begin = try #require(text.range(of: "<!-- run:begin -->"), "\(page) has no walkthrough")
        let end = try #require(text.range(of: "<!-- run:end -->", range: begin.upperBound..<text.endIndex))
        return text[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("```") }.joined(separator: "\n")
    }

    @Test("the walkthrough runs and every check in it holds", arguments: Self.pages)
    func runs(page: String) throws {
        let tmp = try TemporaryDirectory()
        let script = tmp.sub("walkthrough.sh")
        try Self.walkthrough(page).write(toFile: script, atomically: true, encoding: .utf8)
        let bin = URL(fileURLWithPath: ProcessHarness.medtunnel).deletingLastPathComponent().path
        let run = try ChildProcess.run(
            "/bin/bash",
            ["-c", "cd '\(tmp.url.path)' && set -euo pipefail && source walkthrough.sh"],
            timeout: 120,
            environment: ["PATH": "\(bin):" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        )
        #expect(run.status == 0, "docs/\(page):\n\(run.stdout)\n\(run.stderr)")
    }

    @Test("every page with a walkthrough is in the list above")
    func everyWalkthroughRuns() throws {
        let docs = DocsCommandTests.root.appendingPathComponent("docs")
        let marked = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { name in
            guard name.hasSuffix(".md") else { return false }
            return try String(contentsOf: docs.appendingPathComponent(name), encoding: .utf8)
                .contains("<!-- run:begin -->")
        }
        #expect(Set(marked) == Set(Self.pages))
    }
}
