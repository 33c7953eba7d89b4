package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

type paymentMethodsOutput struct {
	Body struct {
		Data []*paymentMethod `json:"data"`
	}
}

type paymentMethodPath struct {
	ID string `path:"id" maxLength:"64" doc:"The card (pm_…)."`
}

// cardRoutes lists and deletes the calling account's saved cards; adding
// one is create-payment-method, beside the upgrades that charge them.
func (s *Server) cardRoutes() {
	tags := []string{"Upgrades"}
	register(s, huma.Operation{OperationID: "list-payment-methods", Method: http.MethodGet, Path: "/v1/payment-methods",
		Summary: "The calling account's saved cards, newest first",
		Description: "Cards are saved on the account's customer at the payment gateway, so any of them can pay for a later upgrade or a retry. " +
			"The default card (\"default\": true) is the one most recently added or most recently charged successfully, by when its upgrade began; " +
			"the dashboard preselects it. Deleted cards are not listed.",
		Tags: tags},
		authAccount, func(ctx context.Context, _ *struct{}) (*paymentMethodsOutput, error) {
			cards, err := s.app.PaymentMethods(ctx, principal(ctx).Account.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &paymentMethodsOutput{}
			out.Body.Data = make([]*paymentMethod, 0, len(cards))
			for _, c := range cards {
				pm := paymentMethodOf(c.PaymentMethod)
				pm.Default = c.Default
				out.Body.Data = append(out.Body.Data, pm)
			}
			return out, nil
		})

	register(s, huma.Operation{OperationID: "delete-payment-method", Method: http.MethodDelete, Path: "/v1/payment-methods/{id}",
		Summary: "Delete a saved card",
		Description: "Detaches the card at the payment gateway, so it can never be charged again, and removes it from the list. " +
			"Past upgrades still show its brand and last 4. Refused with 409 payment_method_in_use while an upgrade in progress pays with it; " +
			"another account's card, or one deleted before, is 404 not_found.",
		DefaultStatus: http.StatusNoContent, Tags: tags},
		authAccount, func(ctx context.Context, in *paymentMethodPath) (*struct{}, error) {
			if err := s.app.DeletePaymentMethod(ctx, principal(ctx).Account.ID, in.ID); err != nil {
				return nil, s.fail(ctx, err)
			}
			return nil, nil
		})
}
