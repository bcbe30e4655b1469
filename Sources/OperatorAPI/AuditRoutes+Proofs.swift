import AuditLog
import AuditTrail
import Foundation
import HTTPTypes
import Hummingbird

/// The proof routes: each proof is checked with `MerkleProof` before it is answered, so a store
/// that returns a wrong hash gives a 500 here rather than a proof that fails at the client.
extension AuditRoutes {
    /// `GET /v1/audit/{index}`: the entry and its inclusion proof against the latest signed
    /// checkpoint. An entry newer than that checkpoint gets one signed now (as `medtunnel audit
    /// checkpoint` does), so every proof answered is against a signed tree head.
    func entry(_ text: String) async throws -> (Response, String?) {
        let log = self.source.log
        guard let index = UInt64(text) else {
            throw APIError.invalidParameter("index", String(text.prefix(64)), "a whole number (an entry's index)")
        }
        let size = await log.size
        guard index < size else {
            throw APIError(.notFound, "entry_not_found", "entry \(index): the log has \(size) entries (0..<\(size))")
        }
        var signed = try await self.latestCheckpoint()
        if signed.map({ $0.checkpoint.size <= index }) ?? true {
            signed = try await log.checkpoint()
        }
        guard let signed else { throw APIError(.internalServerError, "internal", "no checkpoint could be signed") }
        let treeSize = signed.checkpoint.size
        guard let row = try await log.store.entries(in: index..<index + 1).first else {
            throw AuditLogError(.missingEntry, "entry \(index): missing from the store")
        }
        let entry = try AuditEntry(decoding: row.body, context: "entry \(index)")
        let proof = try await log.inclusionProof(index: index, treeSize: treeSize)
        // The leaf hash is recomputed from the entry's bytes, the root taken from the signed note.
        let leaf = RFC9162.leafHash(row.body)
        try MerkleProof.verifyInclusion(
            index: index,
            size: treeSize,
            leafHash: leaf,
            proof: proof.hashes,
            root: signed.checkpoint.rootHash
        )
        let body: [String: Any] = [
            "entry": AuditEntryJSON.object(entry),
            "entryBytes": Data(row.body).base64EncodedString(),
            "leafHash": Self.hex(leaf),
            "inclusion": [
                "index": index, "treeSize": treeSize, "hashes": proof.hashes.map(Self.hex),
                "rootHash": Self.hex(signed.checkpoint.rootHash),
            ] as [String: Any],
            "checkpoint": Self.checkpointObject(signed),
        ]
        return (try Self.json(body), entry.event.pumpSerial)
    }

    /// `GET /v1/audit/checkpoint`: the signed note as text; size, root and note as JSON when the
    /// client asks for `application/json`.
    func checkpoint(_ request: Request) async throws -> Response {
        guard let signed = try await self.latestCheckpoint() else {
            throw APIError(
                .notFound,
                "no_checkpoint",
                "the log has no signed checkpoint yet; the gateway signs one within --checkpoint-interval of the first entry"
            )
        }
        // The log's signature, then every witness's cosignature of this very checkpoint.
        var cosigned = signed
        if let store = self.source.cosignatures {
            cosigned = SignedCheckpoint(
                checkpoint: signed.checkpoint,
                note: try store.cosignedNote(signed.note, body: signed.checkpoint.body)
            )
        }
        if request.headers[.accept]?.contains("application/json") == true {
            return try Self.json(Self.checkpointObject(cosigned))
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: cosigned.note))
        )
    }

    /// `GET /v1/audit/consistency?from=N&to=M`: 0 < N <= M <= the log's size; M defaults to the
    /// latest checkpoint's size.
    func consistency(_ request: Request) async throws -> Response {
        let log = self.source.log
        let parameters = Self.parameters(request)
        let size = await log.size
        guard size > 0 else { throw APIError(.notFound, "empty_log", "the log has no entries: nothing to prove") }
        guard let from = try Self.integer(parameters, "from", in: 1...size) else {
            throw APIError.invalidParameter("from", "", "a tree size from 1 to \(size)")
        }
        let latest = try await self.latestCheckpoint()?.checkpoint.size
        let to = try Self.integer(parameters, "to", in: 1...size) ?? latest ?? size
        guard from <= to else {
            throw APIError.invalidParameter("from", String(from), "at most 'to' (\(to))")
        }
        let proof = try await log.consistencyProof(from: from, to: to)
        try MerkleProof.verifyConsistency(
            oldSize: from,
            newSize: to,
            oldRoot: proof.oldRoot,
            newRoot: proof.newRoot,
            proof: proof.hashes
        )
        let body: [String: Any] = [
            "from": from, "to": to, "oldRoot": Self.hex(proof.oldRoot), "newRoot": Self.hex(proof.newRoot),
            "hashes": proof.hashes.map(Self.hex),
        ]
        return try Self.json(body)
    }

    /// The latest stored checkpoint, its signature checked with the log's own key.
    private func latestCheckpoint() async throws -> SignedCheckpoint? {
        let log = self.source.log
        guard let stored = try await log.store.latestCheckpoint() else { return nil }
        let checkpoint = try log.signer.verifier.verifyCheckpoint(
            note: stored.note,
            context: "checkpoint \(stored.size)"
        )
        return SignedCheckpoint(checkpoint: checkpoint, note: stored.note)
    }

    static func checkpointObject(_ signed: SignedCheckpoint) -> [String: Any] {
        [
            "origin": signed.checkpoint.origin, "size": signed.checkpoint.size,
            "rootHash": Self.hex(signed.checkpoint.rootHash), "note": signed.note,
        ]
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
