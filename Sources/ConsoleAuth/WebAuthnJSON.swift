/// The JSON the console's pages and `/console/auth` routes exchange: options in the shape
/// `navigator.credentials.create/get` take once passkeys.js turned base64url into buffers, and
/// credentials as passkeys.js posts them (binary fields base64url).
enum WebAuthnJSON {
    struct InvitationRequest: Decodable {
        let invitation: String
    }

    struct RegistrationFinish: Decodable {
        let invitation: String
        let credential: Credential<AttestationResponse>
    }

    struct AssertionFinish: Decodable {
        let credential: Credential<AssertionResponse>
    }

    struct Credential<Response: Decodable>: Decodable {
        let id: String
        let type: String
        let response: Response
    }

    struct AttestationResponse: Decodable {
        let clientDataJSON: String
        let attestationObject: String
    }

    struct AssertionResponse: Decodable {
        let clientDataJSON: String
        let authenticatorData: String
        let signature: String
        let userHandle: String?
    }

    struct CreationOptions: Encodable {
        struct RP: Encodable {
            let id: String
            let name: String
        }
        struct User: Encodable {
            let id: String
            let name: String
            let displayName: String
        }
        struct Parameter: Encodable {
            var type = "public-key"
            let alg: Int
        }
        struct Selection: Encodable {
            var residentKey = "required"
            var requireResidentKey = true
            var userVerification = "required"
        }
        let challenge: String
        let rp: RP
        let user: User
        let pubKeyCredParams: [Parameter]
        let timeout: Int
        var attestation = "none"
        let authenticatorSelection: Selection
        let excludeCredentials: [Descriptor]
    }

    struct RequestOptions: Encodable {
        let challenge: String
        let rpId: String
        let timeout: Int
        var userVerification = "required"
        let allowCredentials: [Descriptor]
    }

    struct Descriptor: Encodable {
        var type = "public-key"
        let id: String
    }

    struct Options<Body: Encodable>: Encodable {
        let publicKey: Body
    }

    struct Registered: Encodable {
        let registered: Bool
        let user: String
    }

    struct SignedIn: Encodable {
        let user: String
        let role: String
        let csrfToken: String
    }

    struct WhoAmI: Encodable {
        let user: String
        let role: String
        let stepUpAgeSeconds: Int64
        let csrfToken: String
    }

    struct SteppedUp: Encodable {
        let stepUpAgeSeconds: Int64
    }

    struct SignedOut: Encodable {
        let signedOut: Bool
    }
}
