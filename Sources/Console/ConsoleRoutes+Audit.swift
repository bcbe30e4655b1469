import AccessTokens
import AuditLog
import AuditTrail
import CommandPipeline
import Foundation
import Hummingbird
import OperatorAPI

/// The audit trail for reviewers: search (the filters of `GET /v1/audit`), paged; each entry
/// verifiable in the browser against the latest signed checkpoint (console.js fetches
/// `/console/api/audit/{index}`, the same answer as `GET /v1/audit/{index}`); and the
/// checkpoints, each proven consistent with the one before it.
extension ConsoleRoutes {
    static let auditPageSize = 50

    func registerAuditPages<Context: RequestContext>(on router: Router<Context>) {
        router.get("/console/audit") { request, _ in
            await self.page(request, nav: "audit") { viewer in
                ("audit", "Audit trail", try await self.auditSearch(request, viewer: viewer))
            }
        }
        router.get("/console/audit/checkpoints") { request, _ in
            await self.page(request, nav: "audit") { viewer in
                _ = try await self.reviewer(viewer)
                return ("checkpoints", "Checkpoints", try await self.checkpoints())
            }
        }
        router.get("/console/api/audit/checkpoint") { request, _ in
            try await self.json(request) { _ in try await self.api.auditCheckpointResponse(request) }
        }
        router.get("/console/api/audit/:index") { request, context in
            try await self.json(request) { user in
                let (response, pump) = try await self.api.auditEntryResponse(try context.parameters.require("index"))
                await self.recordRead(user, page: "/console/api/audit/{index}", pumps: pump.map { [$0] } ?? [])
                return response
            }
        }
    }

    /// A JSON read for the console's script: a reviewer's session, errors in the API's shape.
    func json(_ request: Request, _ answer: (AuthenticatedUser) async throws -> Response) async throws -> Response {
        let viewer = try await self.signIn.viewer(of: request)
        let user = try await self.reviewer(viewer)
        do {
            return try await answer(user)
        } catch let error as ChangeAPIError {
            throw APIError(HTTPResponse.Status(code: error.status), error.reason, error.message)
        }
    }

    /// The viewer's user, if a reviewer: the trail names every patient's pumps and every actor.
    func reviewer(_ viewer: ConsoleViewer) async throws -> AuthenticatedUser {
        let user = try await self.user(viewer)
        guard CommandPipeline.reviewerRoles.contains(user.actor.role) else {
            throw APIError(
                .forbidden,
                "not_authorized",
                "the audit trail is for operators, incident staff and admins; your role is \(user.actor.role.rawValue)"
            )
        }
        return user
    }

    func auditSearch(_ request: Request, viewer: ConsoleViewer) async throws -> [String: Any] {
        let user = try await self.reviewer(viewer)
        guard let source = self.api.audit else {
            throw APIError(.notFound, "no_audit_log", "this gateway serves no audit log")
        }
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters where parameters[String(name)] == nil {
            parameters[String(name)] = String(value)
        }
        let query: AuditQuery
        do throws(AuditQueryError) {
            query = try AuditQuery(parameters: parameters)
        } catch {
            throw ConsoleInputError(reason: "invalid_parameter", message: error.description)
        }
        let size = await source.log.size
        var before = try Self.index(parameters, "before")
        var limit = Self.auditPageSize
        if let index = try Self.index(parameters, "index") {
            before = index + 1
            limit = 1
        }
        let page = try await AuditScan.page(
            store: source.log.store,
            size: size,
            query: query,
            order: .newestFirst(before: before),
            limit: limit,
            pumpPatient: source.pumpPatient
        )
        await self.recordRead(user, page: "/console/audit", pumps: Set(page.entries.compactMap(\.event.pumpSerial)))
        var next: String?
        if let cursor = page.next, limit > 1 {
            var items = AuditQuery.parameterNames.compactMap { name in
                parameters[name].flatMap { $0.isEmpty ? nil : "\(name)=\(Self.queryEscaped($0))" }
            }
            items.append("before=\(cursor)")
            next = "/console/audit?" + items.joined(separator: "&")
        }
        var echoed: [String: String] = [:]
        for name in AuditQuery.parameterNames { echoed[name] = parameters[name] ?? "" }
        var object: [String: Any] = [
            "query": echoed,
            "size": size,
            "kinds": AuditKinds.allNames,
            "keyID": hex(source.log.signer.verifier.keyID),
            "verifierJSON": self.verifierJSON(source.log.signer.verifier),
            "entries": page.entries.map { entry in
                [
                    "index": entry.index, "time": ConsoleTime.text(entry.event.timeMilliseconds),
                    "actor": entry.event.actor.id, "role": entry.event.actor.role,
                    "kind": entry.event.kind.rawValue, "summary": AuditSummary.line(entry),
                ] as [String: Any]
            },
        ]
        if let next { object["next"] = next }
        return object
    }

    /// The stored checkpoints, newest first (at most 50), each with its consistency from the
    /// one before it proven here.
    func checkpoints() async throws -> [String: Any] {
        guard let source = self.api.audit else {
            throw APIError(.notFound, "no_audit_log", "this gateway serves no audit log")
        }
        let stored = try await source.log.store.checkpoints().sorted { $0.size < $1.size }.suffix(51)
        let verifier = source.log.signer.verifier
        let cosignatures = (try? source.cosignatures?.entries()) ?? []
        var rows: [[String: Any]] = []
        var previous: Checkpoint?
        for note in stored {
            let body = try verifier.verify(note: note.note, context: "checkpoint \(note.size)")
            let checkpoint = try Checkpoint(parsing: body, context: "checkpoint \(note.size)")
            var consistent = true
            var consistency = "first listed"
            if let previous {
                do {
                    let proof = try await source.log.consistencyProof(from: previous.size, to: checkpoint.size)
                    try MerkleProof.verifyConsistency(
                        oldSize: previous.size,
                        newSize: checkpoint.size,
                        oldRoot: previous.rootHash,
                        newRoot: checkpoint.rootHash,
                        proof: proof.hashes
                    )
                    consistency = "proven from \(previous.size) (\(proof.hashes.count) hashes)"
                } catch {
                    consistent = false
                    consistency = "NOT consistent with \(previous.size): \(error)"
                }
            }
            previous = checkpoint
            let witnesses = cosignatures.filter { $0.size == checkpoint.size }.map(\.witness)
            rows.append([
                "size": checkpoint.size, "root": hex(checkpoint.rootHash).prefix(24) + "…",
                "consistent": consistent, "consistency": consistency,
                "cosigners": witnesses.isEmpty ? "—" : witnesses.joined(separator: ", "),
            ])
        }
        return [
            "checkpoints": Array(rows.dropFirst(rows.count > 50 ? 1 : 0).reversed()),
            "verifierJSON": self.verifierJSON(verifier),
        ]
    }

    /// The log's key for console.js, inside a `<script type="application/json">`: `<` is
    /// escaped so the text can never close the element.
    func verifierJSON(_ verifier: NoteVerifier) -> String {
        let object: [String: String] = [
            "name": verifier.name, "keyID": hex(verifier.keyID),
            "spki": Data(verifier.publicKey.derRepresentation).base64EncodedString(),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }

    static func index(_ parameters: [String: String], _ name: String) throws -> UInt64? {
        guard let text = parameters[name], !text.isEmpty else { return nil }
        guard let value = UInt64(text) else {
            throw ConsoleInputError(
                reason: "invalid_parameter",
                message: "\(name) '\(text.prefix(32))': must be an entry index"
            )
        }
        return value
    }
}
