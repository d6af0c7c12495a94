/**
 * How `AzureBlobStore` reads the Azure SDK's failures: a missing blob apart
 * from a missing container, a taken create, and which failures are
 * permanent with what to tell the operator. Separate from `azure.ts`, which
 * makes the requests, as `file-errors.ts` is for `FileStore`.
 */
import { messageOf } from "../util/message.js";
import { baseVerdict, errorCodeOf, httpStatusOf, type Verdict } from "./cloud/errors.js";

/** A missing blob (a missing container is a configuration error, not "no such key"). */
export function isNotFound(err: unknown): boolean {
  const code = errorCodeOf(err);
  if (code === "ContainerNotFound") return false;
  return code === "BlobNotFound" || httpStatusOf(err) === 404;
}

/** A create that found the blob taken. */
export function isAlreadyExists(err: unknown): boolean {
  const code = errorCodeOf(err);
  const status = httpStatusOf(err);
  return (
    code === "BlobAlreadyExists" || code === "ConditionNotMet" || status === 409 || status === 412
  );
}

/** The code-only place for an account name in the unknown-account hint (the CLI drops it). */
export const AZURE_ACCOUNT_URL_OPTION = " or `accountUrl`";

/** Which Azure failures are permanent, and what to tell the operator about them. */
export function azureVerdict(err: unknown, container: string): Verdict {
  const code = errorCodeOf(err);
  const message = messageOf(err);
  // Azurite answers a bad signature with AuthorizationFailure ("failed to authenticate").
  const authentication = /failed to authenticate/i.test(message);
  switch (authentication ? "AuthenticationFailed" : code) {
    case "ContainerNotFound":
      return {
        permanent: true,
        hint: `The container "${container}" does not exist: create it, or fix the container name or account`,
      };
    case "AuthenticationFailed":
    case "InvalidAuthenticationInfo":
    case "NoAuthenticationInformation":
      return {
        permanent: true,
        hint: "Authentication failed: check the account key, SAS token or credential",
      };
    case "AuthorizationFailure":
    case "AuthorizationPermissionMismatch":
    case "InsufficientAccountPermissions":
      return {
        permanent: true,
        hint: `Not allowed: give this credential read, write, delete and list on container "${container}"`,
      };
    case "ResourceNotFound":
      // What an unknown account (or a wrong URL path) gets, where a missing container gets ContainerNotFound.
      return {
        permanent: true,
        hint: `The service found no such account or resource (container "${container}"): check the account name in the connection string${AZURE_ACCOUNT_URL_OPTION}, and that the endpoint is the account's blob endpoint`,
      };
    case "CredentialUnavailableError":
      return {
        permanent: true,
        hint: "No Azure credential is available: configure the credential passed as `credential`",
      };
  }
  const verdict = baseVerdict(err);
  if (verdict.permanent && verdict.hint === undefined && httpStatusOf(err) === 403)
    return { permanent: true, hint: "Access denied: check the credential and its permissions" };
  return verdict;
}
