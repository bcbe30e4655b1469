import Hummingbird

extension OperatorAPI {
    /// The OpenAPI 3.1 document of every route of this API (`Resources/openapi.json`, compiled
    /// into the binary so that it needs no file beside it). The OpenAPI tests check that it names
    /// exactly the routes the router serves, and Schemathesis checks the answers against it.
    public static var openAPIDocument: [UInt8] { PackageResources.openapi_json }

    /// `GET /openapi.json`: no token, since it describes the API and holds no data.
    static func openAPIResponse() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: Self.openAPIDocument))
        )
    }
}
