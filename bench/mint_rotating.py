"""Mint N distinct valid tokens per algorithm with the shared bench keys (for the rotating-token mode).

Usage: mint_rotating.py BENCH_DIR N   -> BENCH_DIR/tokens/rotating-{hs256,rs256,es256}.txt (one token a line)
Same claims as ../shared/bench/mktokens.py, plus a distinct `jti` per token so every token differs.
"""
import base64, json, sys, time
from pathlib import Path
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

root, n = Path(sys.argv[1]), int(sys.argv[2])
claims = json.loads((root / "claims.json").read_text()) if (root / "claims.json").exists() else {}
ISS, AUD, SUB = claims.get("iss", "https://issuer.bench.local"), claims.get("aud", "jwt-bench"), claims.get("sub", "user-123")
kdir = root / "keys"
secret = (kdir / "hs256.secret").read_bytes()
rsa_k = serialization.load_pem_private_key((kdir / "rs256.key.pem").read_bytes(), None)
ec_k = serialization.load_pem_private_key((kdir / "es256.key.pem").read_bytes(), None)
b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def hs(m):
    h = hmac.HMAC(secret, hashes.SHA256()); h.update(m); return h.finalize()
def es(m):
    r, s = decode_dss_signature(ec_k.sign(m, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
signers = {"hs256": ("HS256", "hs-1", hs), "rs256": ("RS256", "rs-1", lambda m: rsa_k.sign(m, padding.PKCS1v15(), hashes.SHA256())),
           "es256": ("ES256", "es-1", es)}
now = int(time.time())
for name, (alg, kid, sign) in signers.items():
    out = []
    hdr = b64u(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}, separators=(",", ":")).encode())
    for i in range(n):
        c = {"iss": ISS, "aud": AUD, "sub": SUB, "iat": now, "nbf": now - 60, "exp": now + 3600, "scope": "read write", "jti": f"r{i}"}
        si = hdr + "." + b64u(json.dumps(c, separators=(",", ":")).encode())
        out.append(si + "." + b64u(sign(si.encode())))
    (root / "tokens" / f"rotating-{name}.txt").write_text("\n".join(out) + "\n")
print(f"minted {n} tokens x {len(signers)} algorithms")
