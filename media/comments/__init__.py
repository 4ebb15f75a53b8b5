"""Video comments: a Socket.IO room per video on the chat's server, and their REST listing."""
