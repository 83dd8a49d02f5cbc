from trainers.cli import app

app()
