package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/audit"
)

func main() {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	for i := 0; i < 12; i++ {
		mesh := []string{"m1", "m2", "m1"}[i%3]
		actor := fmt.Sprintf("member%d", i%4)
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, audit.Event{MeshID: mesh, EventType: "message_sent", Actor: &actor,
				Payload: []byte(fmt.Sprintf(`{"targetSpec":"@peer%d","priority":"next"}`, i))})
			return err
		})
		if err != nil {
			panic(err)
		}
	}
}
