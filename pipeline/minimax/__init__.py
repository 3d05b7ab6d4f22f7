"""What the MiniMax API is: the async client, the model catalogue, camera commands, image rules."""
