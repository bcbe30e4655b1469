import AuditLog
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The binding of a state directory to a database (`audit-database.url`): what every open of the
/// log by state directory follows. These tests never install `AuditStoreFactories.remote` (it is
/// process-wide): the medtunnel executable does, and CLITests' `DatabaseAttachProcessTests`
/// cover the bound path end to end.
@Suite("a state directory bound to a database")
struct StateDirectoryBindingTests {
    static let url = "postgres://medtunnel:s3cret-pw@127.0.0.1:5432/audit"

    @Test("bind writes the URL owner-only (it may hold a password) and binding reads it back")
    func bindRoundTrip() throws {
        let directory = AuditStateDirectory(path: "\(TestSupport.temporaryDirectory())/state")
        #expect(try directory.binding() == nil)
        try directory.bind(to: Self.url)
        #expect(try directory.binding() == Self.url)
        var info = stat()
        #expect(stat(directory.bindingPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test(
        "a bound directory opened with no remote store installed is an error naming the binding, not a silent SQLite log; nothing is created and the password is not shown"
    )
    func missingFactory() async throws {
        let directory = AuditStateDirectory(path: "\(TestSupport.temporaryDirectory())/state")
        try directory.bind(to: Self.url)
        for open in [true, false] {
            let error = await #expect(throws: AuditLogError.self) {
                _ =
                    open
                    ? try await AuditLog.open(stateDirectory: directory.path)
                    : try await AuditLog.openExisting(stateDirectory: directory.path)
            }
            #expect(error?.code == .storageFailure)
            #expect(error?.reason.contains(directory.bindingPath) == true, "\(String(describing: error))")
            #expect(error?.reason.contains("s3cret-pw") == false)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.databasePath))
    }

    @Test("a binding readable by group or others is refused: it may carry the database's password")
    func looseMode() throws {
        let directory = AuditStateDirectory(path: "\(TestSupport.temporaryDirectory())/state")
        try directory.bind(to: Self.url)
        #expect(chmod(directory.bindingPath, 0o644) == 0)
        let error = #expect(throws: AuditLogError.self) { try directory.binding() }
        #expect(error?.reason.contains("chmod 600") == true, "\(String(describing: error))")
        #expect(error?.reason.contains("s3cret-pw") == false)
    }

    @Test("an empty binding is refused with the command that writes it")
    func emptyBinding() throws {
        let directory = AuditStateDirectory(path: "\(TestSupport.temporaryDirectory())/state")
        try directory.bind(to: "")
        let error = #expect(throws: AuditLogError.self) { try directory.binding() }
        #expect(error?.reason.contains("medtunnel db attach") == true, "\(String(describing: error))")
    }
}
