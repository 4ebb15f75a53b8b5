// What to tell a person for each error code the API (or the network) produces.
const MESSAGES: Record<string, string> = {
  offline: "Can't reach the server. Check your connection and try again.",
  session_expired: 'Your session has expired. Please sign in again.',
  unauthorized: 'Please sign in to continue.',
  invalid_token: 'Your session has expired. Please sign in again.',
  bad_credentials: 'That email and password do not match.',
  token_reused: 'Your session was ended elsewhere. Please sign in again.',
  email_taken: 'An account with that email already exists.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
  too_many_holds: 'You are holding too many unpaid tickets. Complete or release one first.',
  sold_out: 'This event is sold out.',
  already_has_ticket: 'You already have a ticket for this event.',
  free_event: 'This event is free: no ticket needed.',
  event_cancelled: 'This event was cancelled.',
  event_ended: 'This event is over.',
  event_over: 'This event is over.',
  ticket_required: 'You need a ticket (validated) to watch this event.',
  already_redeemed: 'This ticket was already validated. Use re-entry on this device.',
  invalid: 'That code is not a valid ticket code.',
  invalid_time: 'That code has expired. Show a fresh one.',
  not_owner: 'This ticket belongs to someone else.',
  wrong_event: 'This ticket is for another event.',
  unpaid: 'This ticket is not paid yet.',
  suspicious_location:
    'This ticket was just used far away. Sign in again from here to move it to this device.',
  no_ticket: 'You have no ticket for this replay.',
  no_replay_access: 'Your ticket does not include the replay.',
  replay_expired: 'The replay window has closed.',
  video_not_found: 'This video is not available.',
  not_found: 'Not found.',
  forbidden: 'You are not allowed to do that.',
  too_large: 'That is too large for the server.',
  unavailable: 'The server is restarting. Try again in a few seconds.',
  payment_provider_error: 'The payment provider is not answering. Try again shortly.',
  insufficient_funds: 'Not enough available balance.',
  invalid_iban: 'That IBAN is not valid.',
  no_access: 'You may not watch this event.',
  banned: 'You were banned from this chat.',
  timed_out: 'You are timed out in this chat.',
  slow_mode: 'Slow mode is on: wait a little before sending again.',
  not_moderator: 'Only moderators can do that.',
  cannot_sanction: 'Moderators (and you) cannot be sanctioned.',
  invalid_text: 'Messages are 1 to 500 characters.',
};

/** A sentence for an error code, falling back to the server's own message. */
export function humanMessage(code: string, serverMessage?: string, status?: number): string {
  const known = MESSAGES[code];
  if (known) return known;
  if (serverMessage) return serverMessage.charAt(0).toUpperCase() + serverMessage.slice(1);
  if (status && status >= 500) return 'Something went wrong on the server. Try again shortly.';
  return 'Something went wrong. Try again.';
}

/** The message to show for anything thrown. */
export function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') {
    return err.message;
  }
  return 'Something went wrong. Try again.';
}
