import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { createCA, generateServingCert, issueCertificate } from "../../env/certs.ts";

describe("test PKI", () => {
  it("issues a serving certificate for 127.0.0.1 and localhost that its CA verifies", () => {
    const { caPem, certPem, keyPem } = generateServingCert();
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(certPem);
    assert.ok(ca.ca, "the CA certificate is a CA");
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(ca.publicKey), "signed by the CA");
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkHost("localhost"), "localhost");
    assert.equal(cert.checkHost("example.com"), undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), "the key matches the certificate");
    assert.match(cert.keyUsage?.join(",") ?? "", /1\.3\.6\.1\.5\.5\.7\.3\.1/, "extended key usage serverAuth");
  });

  it("puts client certificate groups in O=", () => {
    const ca = createCA("unit-ca");
    const admin = issueCertificate(ca, { commonName: "admin", organizations: ["system:masters"], usage: "client" });
    const cert = new X509Certificate(admin.certPem);
    assert.match(cert.subject, /^O=system:masters$/m);
    assert.match(cert.subject, /^CN=admin$/m);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
    assert.match(cert.keyUsage?.join(",") ?? "", /1\.3\.6\.1\.5\.5\.7\.3\.2/, "extended key usage clientAuth");
  });
});
