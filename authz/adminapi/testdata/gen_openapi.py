# Writes ../openapi.json: run from this directory after changing the API.
import json
S = lambda t, **kw: dict(type=t, **kw)
arr = lambda item: {"type": "array", "items": item}
string, boolean, integer = S("string"), S("boolean"), S("integer")
strs = arr(string)
nullable_str = {"type": ["string", "null"]}
ref = lambda n: {"$ref": "#/components/schemas/" + n}
def obj(props, required=None, closed=True):
    o = {"type": "object", "properties": props, "additionalProperties": not closed}
    if required: o["required"] = required
    return o
user = obj({"name": string, "admin": boolean, "scopes": strs, "plan": string, "created_at": S("string", format="date-time")},
           ["name", "admin", "scopes", "plan", "created_at"])
client_props = {"id": string, "name": string, "grants": strs, "scopes": strs, "redirect_uris": strs,
                "allowed_origins": strs, "first_party": boolean, "owner": string, "plan": string}
client = obj(dict(client_props, public=boolean, created_at=S("string", format="date-time")),
             list(client_props) + ["public", "created_at"])
client_created = obj(dict(client["properties"], client_secret=string), client["required"])
schemas = {
  "User": user,
  "UserCreate": obj({"name": string, "password": S("string", minLength=8), "admin": boolean, "scopes": strs, "plan": string}, ["name", "password"]),
  "UserPatch": obj({"scopes": strs, "plan": string, "password": S("string", minLength=8)}),
  "Client": client,
  "ClientCreated": client_created,
  "ClientCreate": obj(client_props, ["id", "name"]),
  "ClientPatch": obj({k: v for k, v in client_props.items() if k not in ("id", "owner")}),
  "Session": obj({"id": string, "client_id": string, "subject": string, "kind": string, "scope": string,
                  "created_at": S("string", format="date-time"), "expires_at": S("string", format="date-time")},
                 ["id", "client_id", "subject", "kind", "scope", "created_at", "expires_at"]),
  "Subscription": obj({"id": integer, "user": string, "type": string, "name": string,
                       "date_active": S("string", format="date-time"), "date_expiry": S("string", format="date-time"), "active": boolean},
                      ["id", "user", "type", "name", "date_active", "date_expiry", "active"]),
  "SubscriptionCreate": obj({"type": string, "name": string, "date_active": S("string", description="RFC 3339 or YYYY-MM-DD"),
                             "date_expiry": S("string", description="RFC 3339 or YYYY-MM-DD (to the end of that day)")},
                            ["type", "date_active", "date_expiry"]),
  "Usage": obj({"client_id": string, "plan": string, "rate": string, "quota": string, "quota_used": integer,
                "quota_left": {"type": ["integer", "null"]}, "quota_resets": nullable_str,
                "days": arr(obj({"date": S("string", format="date"), "requests": integer}, ["date", "requests"]))},
               ["client_id", "plan", "rate", "quota", "quota_used", "quota_left", "quota_resets", "days"]),
  "Key": obj({"kid": string, "alg": string, "state": S("string", enum=["signing", "retiring", "retired", "dropped"]),
              "created_at": S("string", format="date-time"), "retired_at": nullable_str, "published_until": nullable_str},
             ["kid", "alg", "state", "created_at", "retired_at", "published_until"]),
  "Rotation": obj({"retired_kid": string, "signing_kid": string}, ["retired_kid", "signing_kid"]),
  "Problem": obj({"type": string, "title": string, "status": integer, "detail": string,
                  "errors": arr(obj({"field": string, "detail": string}, ["field", "detail"]))},
                 ["type", "title", "status", "detail"]),
}
def content(schema, mt="application/json"): return {mt: {"schema": schema}}
problem = {"description": "an error (RFC 9457 problem details)", "content": content(ref("Problem"), "application/problem+json")}
def op(opid, summary, ok_status=None, ok_schema=None, body=None, params=(), query=()):
    o = {"operationId": opid, "summary": summary, "responses": {}}
    ps = [{"name": p, "in": "path", "required": True, "schema": string} for p in params]
    ps += [{"name": q, "in": "query", "required": False, "schema": s} for q, s in query]
    if ps: o["parameters"] = ps
    if body: o["requestBody"] = {"required": True, "content": content(ref(body))}
    if ok_status == "204":
        o["responses"]["204"] = {"description": "done"}
    else:
        o["responses"][ok_status] = {"description": "the resource", "content": content(ok_schema)}
    o["responses"]["default"] = problem
    return o
paths = {
  "/users": {"get": op("listUsers", "list users", "200", arr(ref("User"))),
             "post": op("createUser", "create a user", "201", ref("User"), "UserCreate")},
  "/users/{name}": {"get": op("getUser", "read a user", "200", ref("User"), params=["name"]),
                    "patch": op("updateUser", "change a user's scopes, plan or password", "200", ref("User"), "UserPatch", ["name"]),
                    "delete": op("deleteUser", "delete a user with their clients; revokes their tokens", "204", params=["name"])},
  "/users/{name}/subscriptions": {"get": op("listSubscriptions", "a user's subscriptions", "200", arr(ref("Subscription")), params=["name"]),
                                  "post": op("addSubscription", "give a user a subscription", "201", ref("Subscription"), "SubscriptionCreate", ["name"])},
  "/subscriptions/{id}": {"delete": op("removeSubscription", "remove a subscription", "204", params=["id"])},
  "/clients": {"get": op("listClients", "list clients", "200", arr(ref("Client")), query=[("owner", string)]),
               "post": op("createClient", "register a client (the answer holds client_secret, once)", "201", ref("ClientCreated"), "ClientCreate")},
  "/clients/{id}": {"get": op("getClient", "read a client", "200", ref("Client"), params=["id"]),
                    "patch": op("updateClient", "change a client", "200", ref("Client"), "ClientPatch", ["id"]),
                    "delete": op("deleteClient", "delete a client; revokes its tokens", "204", params=["id"])},
  "/clients/{id}/sessions": {"get": op("listSessions", "a client's current sessions", "200", arr(ref("Session")), params=["id"])},
  "/sessions/{id}": {"delete": op("revokeSession", "revoke a session", "204", params=["id"])},
  "/clients/{id}/usage": {"get": op("getUsage", "requests per day, plan, quota left", "200", ref("Usage"), params=["id"],
                                    query=[("days", S("integer", minimum=1, maximum=400))])},
  "/keys": {"get": op("listKeys", "signing keys (never key material)", "200", arr(ref("Key")))},
  "/keys/rotate": {"post": op("rotateKeys", "make a new signing key and retire the current one", "200", ref("Rotation"))},
  "/openapi.json": {"get": dict(op("getOpenAPI", "this document", "200", S("object")), security=[])},
}
doc = {"openapi": "3.1.0",
       "info": {"title": "Clearance admin API", "version": "1",
                "description": "Provisioning of users, clients, subscriptions and sessions. Authenticate with an admin API key (clearance apikey create) as Authorization: Bearer <key>."},
       "servers": [{"url": "/admin/api/v1"}],
       "security": [{"apiKey": []}],
       "paths": paths,
       "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}, "schemas": schemas}}
with open("../openapi.json", "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
