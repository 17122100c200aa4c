from fastapi import APIRouter

router = APIRouter()


async def start(app):
    pass


async def stop(app):
    pass
