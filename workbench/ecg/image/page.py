"""Phone photos: find the sheet of paper and undo the perspective (keystone) before anything is measured."""
from __future__ import annotations

import cv2
import numpy as np


def _order(points: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    s, d = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array([points[np.argmin(s)], points[np.argmin(d)], points[np.argmax(s)], points[np.argmax(d)]], dtype=np.float32)


def find_sheet(rgb: np.ndarray, *, min_area: float = 0.25, max_area: float = 0.97) -> np.ndarray | None:
    """The four corners of the paper when it stands out from a darker background, else None."""
    scale = 800.0 / max(rgb.shape[:2])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    _, paper = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper = cv2.morphologyEx(paper, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    contours, _ = cv2.findContours(paper, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    sheet = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(sheet) / (small.shape[0] * small.shape[1])
    if not min_area <= area <= max_area:
        return None
    quad = cv2.approxPolyDP(sheet, 0.02 * cv2.arcLength(sheet, True), True)
    if len(quad) != 4 or not cv2.isContourConvex(quad):
        return None
    return _order(quad.reshape(4, 2).astype(np.float32) / (scale if scale < 1 else 1.0))


def flatten_sheet(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp the sheet to a rectangle; returns (image, 3x3 homography original->flattened).

    The identity (and the image unchanged) when no sheet outline is seen, e.g. a scan that fills the frame.
    """
    corners = find_sheet(rgb)
    if corners is None:
        return rgb, np.eye(3)
    tl, tr, br, bl = corners
    width = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    height = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    homography = cv2.getPerspectiveTransform(corners, target)
    flat = cv2.warpPerspective(rgb, homography, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return flat, homography
