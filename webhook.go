package tierup

import "time"

// WebhookEventRetention is how long the ID of a processed webhook event is
// remembered, so that the event delivered again is acknowledged without
// being acted on twice (Store.RecordWebhookEvent). It is well beyond the 3
// days over which Stripe retries a delivery; an older replay is refused by
// the signature's timestamp tolerance anyway.
const WebhookEventRetention = 30 * 24 * time.Hour
