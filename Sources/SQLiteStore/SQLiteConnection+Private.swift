#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SQLiteConnection {
    /// Opens a store's own database, owner-only: creates the file with mode 0600 before SQLite
    /// does (its -wal and -shm inherit the mode), applies `durability` (durable by default:
    /// `journal_mode=WAL`, `synchronous=FULL`), runs `schema` when the database is new
    /// (`user_version` 0) and then sets `user_version` to `schemaVersion`; an existing database
    /// of another version is refused.
    public static func openPrivate(
        path: String,
        schemaVersion: Int,
        schema: String,
        durability: Durability = .walFull
    ) throws -> SQLiteConnection {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            // 14: SQLITE_CANTOPEN.
            throw SQLiteError(resultCode: 14, reason: "create \(path): \(String(cString: strerror(errno)))")
        }
        close(fd)
        let connection = try SQLiteConnection(path: path)
        try connection.apply(durability)
        let version = Int(try connection.pragma("user_version")) ?? 0
        if version == 0 {
            try connection.writeTransaction {
                try connection.execute(schema + "\nPRAGMA user_version = \(schemaVersion);")
            }
        } else if version != schemaVersion {
            throw SQLiteError(resultCode: 1, reason: "\(path): schema version \(version), expected \(schemaVersion)")
        }
        return connection
    }
}
