import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why a file a person named on the command line could not be read, in the system's words
/// ("No such file or directory", "Permission denied"), not Foundation's ("The operation could
/// not be completed").
enum FileText {
    /// Why `path` cannot be read as UTF-8 text.
    static func problem(_ path: String) -> String {
        var status = stat()
        guard stat(path, &status) == 0 else { return String(cString: strerror(errno)) }
        if (status.st_mode & S_IFMT) == S_IFDIR { return "it is a directory, not a file" }
        guard access(path, R_OK) == 0 else { return String(cString: strerror(errno)) }
        return "not UTF-8 text"
    }
}
