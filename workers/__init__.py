"""Task modules that workers import: `taskq worker workers.example`."""
