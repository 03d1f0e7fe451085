// A real OpenID Connect provider (the `oidc-provider` npm package) for the tests.
// Config comes as JSON in OIDC_TEST_CONFIG: {port, clients: [...], accounts: {id: claims}}.
// Prints "ready <issuer>" once listening. Login form: devInteractions (any password).
import Provider from "oidc-provider";

const config = JSON.parse(process.env.OIDC_TEST_CONFIG || "{}");
const port = config.port;
const issuer = `http://127.0.0.1:${port}`;
const accounts = config.accounts || {};

const provider = new Provider(issuer, {
  clients: config.clients || [],
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username", "groups"],
  },
  scopes: ["openid", "email", "profile"],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ["portal-tests-only"] },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, IdToken: 600, AccessToken: 600, AuthorizationCode: 60 },
});
provider.proxy = false;
const server = provider.listen(port, "127.0.0.1", () => {
  process.stdout.write(`ready ${issuer}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
