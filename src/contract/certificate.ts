// CA certificates of the hosts' trust store, wire contract: what the
// certificate operations take and what an agent answers. The names and fields
// are the reference's (CertificateCAInfo, CertificateCACreateRequest, ...),
// with more where ours says more (subject, issuer, not_after, fingerprint).
import { type Static, Type } from 'typebox';
import { OBJECT_NAME_PATTERN } from './file.js';

export const CERTIFICATE_NAME_MAX = 64;
/** No '/', no leading '-' or '.': a name is one file name, never an option or a path. */
export const CERTIFICATE_NAME_PATTERN = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,${CERTIFICATE_NAME_MAX - 1}}$`;
export const CERTIFICATE_NAME_EXPECTED = `must be letters, digits and _ . -, starting with a letter or digit, at most ${CERTIFICATE_NAME_MAX} characters (e.g. corp-root)`;

const CertificateName = Type.String({
  pattern: CERTIFICATE_NAME_PATTERN,
  description: `The certificate's name: its file is osapi-<name>.crt. ${CERTIFICATE_NAME_EXPECTED}.`,
});

const ObjectName = Type.String({
  pattern: OBJECT_NAME_PATTERN,
  description: 'The stored object (POST /file) holding the PEM certificate(s).',
});

const ObjectSha256 = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description:
    "The object's SHA-256 as the API saw it when it accepted the job: the agent writes no other content.",
});

// ---- job data --------------------------------------------------------------

export const CertificateNameData = Type.Object(
  { name: CertificateName },
  { additionalProperties: false },
);
export type CertificateNameData = Static<typeof CertificateNameData>;

export const CertificateCACreateRequest = Type.Object(
  { name: CertificateName, object: ObjectName },
  { additionalProperties: false, examples: [{ name: 'corp-root', object: 'corp-root.pem' }] },
);
export const CertificateCAData = Type.Object(
  { ...CertificateCACreateRequest.properties, object_sha256: ObjectSha256 },
  { additionalProperties: false },
);
export type CertificateCAData = Static<typeof CertificateCAData>;

// ---- what an agent answers ---------------------------------------------------

export const CertificateCAInfo = Type.Object(
  {
    name: Type.String({
      description:
        "custom: the name given at create; system: the file under the distribution's directory (e.g. mozilla/ISRG_Root_X1.crt).",
    }),
    source: Type.Union([Type.Literal('system'), Type.Literal('custom')], {
      description:
        'custom: written by this system (certificate.ca.create); system: shipped by the distribution.',
    }),
    subject: Type.String({
      description: "The (first) certificate's subject, one attribute a line.",
    }),
    issuer: Type.String({ description: "The (first) certificate's issuer." }),
    not_after: Type.String({ description: 'When it expires (ISO 8601, UTC).' }),
    fingerprint: Type.String({
      description: 'SHA-256 of the (first) certificate, colon-separated hex as openssl prints it.',
    }),
    certificates: Type.Integer({ description: 'How many certificates the file holds.' }),
  },
  { description: 'A CA certificate file of the trust store.' },
);
export type CertificateCAInfo = Static<typeof CertificateCAInfo>;

export const CertificateCAListResult = Type.Object({
  certificates: Type.Array(CertificateCAInfo),
});
export const CertificateCAMutationResult = Type.Object({
  name: Type.String(),
  changed: Type.Boolean({
    description: 'False when the host already was as asked: nothing was written or run.',
  }),
});
export type CertificateCAMutationResult = Static<typeof CertificateCAMutationResult>;
