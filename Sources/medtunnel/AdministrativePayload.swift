import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The payload of an entry appended by hand (`audit append`): the operator's JSON object with two
/// fields added, `"administrative": true` and `"osUser"`, the account the process ran as. The
/// `--actor` is only a claim anyone can type; the OS user is what the host knows, so a claimed
/// actor is never the only record of who wrote the entry.
enum AdministrativePayload {
    /// The payload bytes: `json` must be a JSON object without those two fields.
    static func wrap(_ json: String, osUser: String) throws -> [UInt8] {
        guard
            var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [])) as? [String: Any]
        else {
            throw ValidationError("--payload: not a JSON object (an administrative entry's payload is an object)")
        }
        for reserved in ["administrative", "osUser"] where object[reserved] != nil {
            throw ValidationError("--payload: \"\(reserved)\" is set by the command, not by the payload")
        }
        object["administrative"] = true
        object["osUser"] = osUser
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Array(data)
    }

    /// The effective user's name (`getpwuid(geteuid())`), or `uid:N` when it has no entry.
    static func currentUser() -> String {
        let uid = geteuid()
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid:\(uid)" }
        return String(cString: name)
    }
}
